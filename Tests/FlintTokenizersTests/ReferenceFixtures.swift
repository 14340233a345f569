import Foundation
import XCTest
import FlintLoading
import FlintTokenizers

/// llama.cpp reference data (Tests/Fixtures/llamacpp-reference.json).
struct ModelReference: Decodable {
    struct TokenizeCase: Decodable {
        let text: String
        let ids: [Int32]
        let ids_parse_special: [Int32]
    }
    struct GreedyCase: Decodable {
        let prompt: String
        let prompt_ids: [Int32]
    }
    let gguf_add_bos_token: Bool
    let tokenize: [TokenizeCase]
    let greedy: [GreedyCase]
}

enum ReferenceFixtures {
    /// Fixture key -> catalog model name (the GGUF file is `<name>.gguf`).
    static let models: [(key: String, name: String)] = [
        ("smollm2-135m-instruct-q4_1", "smollm2-135m-instruct"),
        ("gemma-3-270m-q4_k_m", "gemma-3-270m"),
        ("qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-0.5b-instruct"),
    ]

    static let fixtureURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/llamacpp-reference.json")

    static func load() throws -> [String: ModelReference] {
        let data = try Data(contentsOf: fixtureURL)
        return try JSONDecoder().decode([String: ModelReference].self, from: data)
    }

    static var flintHome: String {
        if let home = ProcessInfo.processInfo.environment["FLINT_HOME"], !home.isEmpty { return home }
        return NSHomeDirectory() + "/.cache/flint"
    }

    static func modelPath(_ name: String) -> String { flintHome + "/models/\(name).gguf" }
}

/// Loads each model's tokenizer once per test process.
final class TokenizerStore: @unchecked Sendable {
    static let shared = TokenizerStore()
    private let lock = NSLock()
    private var cache: [String: Tokenizer] = [:]
    private(set) var loadSeconds: [String: Double] = [:]

    /// The tokenizer of catalog model `name`; records a test failure (not a skip) when the
    /// model file is missing.
    func tokenizer(_ name: String, file: StaticString = #filePath, line: UInt = #line) -> Tokenizer? {
        lock.lock()
        defer { lock.unlock() }
        if let t = cache[name] { return t }
        let path = ReferenceFixtures.modelPath(name)
        guard FileManager.default.fileExists(atPath: path) else {
            XCTFail("model file \(path) is missing: run `flint pull \(name)` (or set FLINT_HOME)", file: file, line: line)
            return nil
        }
        do {
            let gguf = try GGUFFile(path: path)
            let start = DispatchTime.now().uptimeNanoseconds
            let t = try Tokenizer(gguf: gguf)
            loadSeconds[name] = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            cache[name] = t
            return t
        } catch {
            XCTFail("could not build the tokenizer of \(path): \(error)", file: file, line: line)
            return nil
        }
    }
}

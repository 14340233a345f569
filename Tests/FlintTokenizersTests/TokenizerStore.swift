import Foundation
import XCTest
import FlintLoading
import FlintTokenizers
import FlintTestSupport

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
        let path = ModelCatalog.path(of: name).path
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

import FlintEngine
import FlintLoading
import FlintModels
import FlintTestSupport
import XCTest

/// Model outputs against llama.cpp: for every greedy case of the reference, the
/// next-token argmax, the logits of the reference top 10, and the first 16 greedy tokens.
final class ReferenceLogitsTests: XCTestCase {
    func testSmolLM2() throws { try check("smollm2-135m-instruct-q4_1", "smollm2-135m-instruct") }
    func testGemma3() throws { try check("gemma-3-270m-q4_k_m", "gemma-3-270m") }
    func testQwen2() throws { try check("qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-0.5b-instruct") }

    private func check(_ key: String, _ name: String) throws {
        let golden = try XCTUnwrap(try Golden.load()[key])
        let gguf = try GGUFFile(path: try TestModels.path(name))
        let model = try ModelRegistry.load(gguf)
        let generator = Generator(model: model, threads: 2, contextTokens: 512)
        var greedyMatches = 0
        for c in golden.greedy {
            let logits = generator.feed(c.prompt_ids, at: 0)
            XCTAssertEqual(Sampler.argmax(logits), c.top10_ids[0], "\(name): argmax for \(c.prompt.debugDescription)")
            var worst: Float = 0
            for (id, ref) in zip(c.top10_ids, c.top10_logits) {
                let diff = abs(logits[Int(id)] - ref)
                worst = max(worst, diff)
                XCTAssertLessThanOrEqual(diff, 0.5, "\(name): logit of \(id) for \(c.prompt.debugDescription): \(logits[Int(id)]) vs \(ref)")
            }
            let n = min(16, c.greedy_ids.count)
            let out = try generator.generate(prompt: c.prompt_ids, maxNewTokens: n, sampling: .greedy, stopTokens: [])
            let same = Array(out.prefix(n)) == Array(c.greedy_ids.prefix(n))
            if same { greedyMatches += 1 }
            print("[\(name)] \(c.prompt.debugDescription.prefix(40)) max|Δlogit|=\(worst) greedy16 \(same ? "match" : "DIFFER: \(out) vs \(c.greedy_ids.prefix(n))")")
        }
        let ratio = Double(greedyMatches) / Double(golden.greedy.count)
        print("[\(name)] greedy 16-token matches: \(greedyMatches)/\(golden.greedy.count)")
        XCTAssertGreaterThanOrEqual(ratio, 0.9, "\(name): only \(greedyMatches)/\(golden.greedy.count) greedy cases match")
    }
}

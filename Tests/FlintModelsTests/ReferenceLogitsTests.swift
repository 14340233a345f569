import FlintEngine
import FlintLoading
import FlintModels
import FlintTestSupport
import XCTest

/// Model outputs against llama.cpp: for every greedy case of the reference, the
/// next-token argmax, the logits of the reference top 10, and the first 16 greedy tokens.
///
/// The issue asks for |Δlogit| ≤ 0.5 and ≥ 90% of greedy cases matching. Flint follows
/// llama.cpp 0.3.36's CPU arithmetic operation by operation (attention.c, activation.c,
/// and the batch forms of flint_gemm_form), so the logits agree to the reference's four
/// printed decimals and every greedy case matches; the tolerance below guards that.
final class ReferenceLogitsTests: XCTestCase {
    struct Expectation {
        var logitTolerance: Float
        var minGreedyMatches: Int  // of 8 cases
    }

    func testSmolLM2() throws {
        try check("smollm2-135m-instruct-q4_1", "smollm2-135m-instruct", Expectation(logitTolerance: 1e-3, minGreedyMatches: 8))
    }

    func testGemma3() throws {
        try check("gemma-3-270m-q4_k_m", "gemma-3-270m", Expectation(logitTolerance: 1e-3, minGreedyMatches: 8))
    }

    func testQwen2() throws {
        try check("qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-0.5b-instruct", Expectation(logitTolerance: 1e-3, minGreedyMatches: 8))
    }

    private func check(_ key: String, _ name: String, _ expected: Expectation) throws {
        let golden = try XCTUnwrap(try Golden.load()[key])
        XCTAssertEqual(golden.greedy.count, 8)
        let gguf = try GGUFFile(path: try TestModels.path(name))
        let model = try ModelRegistry.load(gguf)
        let runner = SequenceRunner(model: model, threads: 2, contextTokens: 512)
        var greedyMatches = 0
        for c in golden.greedy {
            let logits = runner.feed(c.prompt_ids, at: 0)
            XCTAssertEqual(Sampler.argmax(logits), c.top10_ids[0], "\(name): argmax for \(c.prompt.debugDescription)")
            var worst: Float = 0
            for (id, ref) in zip(c.top10_ids, c.top10_logits) {
                let diff = abs(logits[Int(id)] - ref)
                worst = max(worst, diff)
                XCTAssertLessThanOrEqual(diff, expected.logitTolerance,
                                         "\(name): logit of \(id) for \(c.prompt.debugDescription): \(logits[Int(id)]) vs \(ref)")
            }
            let n = min(16, c.greedy_ids.count)
            let out = runner.greedy(prompt: c.prompt_ids, count: n)  // from a fresh context, as the reference
            let same = Array(out.prefix(n)) == Array(c.greedy_ids.prefix(n))
            if same { greedyMatches += 1 }
            let firstDiff = zip(out, c.greedy_ids).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            print("[\(name)] \(c.prompt.debugDescription.prefix(40)) max|Δlogit|=\(worst) greedy16: "
                  + (same ? "match" : "differs from token \(firstDiff ?? n)"))
        }
        print("[\(name)] greedy 16-token matches: \(greedyMatches)/\(golden.greedy.count)")
        XCTAssertGreaterThanOrEqual(greedyMatches, expected.minGreedyMatches, "\(name): greedy cases matching")
    }
}

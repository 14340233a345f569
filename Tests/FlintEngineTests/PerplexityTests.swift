import FlintEngine
import FlintModels
import FlintTestSupport
import Foundation
import XCTest

/// `PerplexityEvaluator` against an independent scoring of the same chunks: each chunk's
/// logits for every position from one pass, the next token's log-probability taken from
/// them in double precision, over the second half of each chunk.
final class PerplexityTests: XCTestCase {
    private func genesis(characters: Int) throws -> String {
        let url = Golden.fixturesDirectory.appendingPathComponent("kjv-genesis.txt")
        return String(try String(contentsOf: url, encoding: .utf8).prefix(characters))
    }

    func testMatchesTokenByTokenScoring() throws {
        let m = try LoadedModel(path: TestModels.path("smollm2-135m-instruct"))
        let tokens = m.encodeRaw(try genesis(characters: 4000))
        let context = 64, chunks = 3
        let bos = m.tokenizer.addBOS ? m.tokenizer.bosID : nil
        let report = try PerplexityEvaluator(model: m.model, threads: 2, context: context).evaluate(tokens: tokens, bos: bos, chunks: chunks)
        XCTAssertEqual(report.chunks, chunks)
        XCTAssertEqual(report.scoredTokens, chunks * (context - context / 2 - 1))

        var nll = 0.0, count = 0
        for c in 0..<chunks {
            var chunk = Array(tokens[(c * context)..<((c + 1) * context)])
            if let bos { chunk[0] = bos }
            let rows = SequenceRunner(model: m.model, threads: 2, contextTokens: context).allLogits(chunk)
            for p in (context / 2)..<(context - 1) {
                let logits = rows[p].map(Double.init)
                let maxLogit = logits.max()!
                let sum = logits.reduce(0.0) { $0 + exp($1 - maxLogit) }
                nll -= logits[Int(chunk[p + 1])] - maxLogit - log(sum)
                count += 1
            }
        }
        let expected = exp(nll / Double(count))
        XCTAssertEqual(count, report.scoredTokens)
        // Same forward pass (one 64-token piece per chunk); the scoring here runs in double
        // throughout, the evaluator's exp in float as llama.cpp's.
        XCTAssertEqual(report.perplexity, expected, accuracy: expected * 1e-6)
        XCTAssertGreaterThan(report.error, 0)
    }

    func testTextShorterThanTwoChunksIsRefused() throws {
        let m = try LoadedModel(path: TestModels.path("smollm2-135m-instruct"))
        let tokens = m.encodeRaw("In the beginning God created the heaven and the earth.")
        let evaluator = try PerplexityEvaluator(model: m.model, threads: 1, context: 64)
        XCTAssertThrowsError(try evaluator.evaluate(tokens: tokens, bos: nil)) { error in
            XCTAssertEqual(error as? PerplexityError, .textTooShort(tokens: tokens.count, context: 64))
        }
        XCTAssertThrowsError(try PerplexityEvaluator(model: m.model, threads: 1, context: 63))
    }

    /// A Q8_0 KV cache costs at most 1% of perplexity against the F16 cache on every catalog
    /// model (same chunks of the shipped text). Qwen2's outlying key dimensions are the hard
    /// case: quantized unrotated, its keys lost ~2% (attention.c's Hadamard rotation).
    func testQ8CacheIsWithinOnePercentOfF16() throws {
        let text = try genesis(characters: 12000)
        for name in ["smollm2-135m-instruct", "gemma-3-270m", "qwen2.5-coder-0.5b-instruct"] {
            let m = try LoadedModel(path: TestModels.path(name))
            let tokens = m.encodeRaw(text)
            let bos = m.tokenizer.addBOS ? m.tokenizer.bosID : nil
            func perplexity(_ type: KVCacheType) throws -> Double {
                try PerplexityEvaluator(model: m.model, threads: 2, context: 512, kvCacheType: type)
                    .evaluate(tokens: tokens, bos: bos, chunks: 3).perplexity
            }
            let f16 = try perplexity(.f16), q8 = try perplexity(.q8_0)
            XCTAssertLessThan(abs(q8 / f16 - 1), 0.01, "\(name): q8_0 \(q8), f16 \(f16)")
        }
    }

    /// A context longer than one 512-token pass: the first pass scores nothing (all its
    /// positions are in the chunk's first half), the later ones do.
    func testContextOfSeveralPasses() throws {
        let m = try LoadedModel(path: TestModels.path("smollm2-135m-instruct"))
        let tokens = m.encodeRaw(try genesis(characters: 12000))
        let report = try PerplexityEvaluator(model: m.model, threads: 2, context: 1200).evaluate(tokens: tokens, bos: nil, chunks: 1)
        XCTAssertEqual(report.scoredTokens, 1200 - 600 - 1)
        XCTAssert(report.perplexity.isFinite && report.perplexity > 1, "\(report)")
    }
}

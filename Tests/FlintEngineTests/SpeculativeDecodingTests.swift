import FlintEngine
import FlintGrammar
import FlintLoading
import FlintModels
import FlintTestSupport
import Foundation
import XCTest

/// Speculative decoding on the catalog models: greedy output with a prediction or prompt
/// lookup is token for token, and logprob for logprob, the output without speculation —
/// with a LoRA adapter, under a grammar, and batched with other requests. This holds only
/// because a verified proposal runs as a decode row of its own (decode arithmetic), not as
/// part of a prompt-like chunk.
final class SpeculativeDecodingTests: XCTestCase {
    private func engine(_ m: LoadedModel, speculation: EngineConfiguration.Speculation, draft: LoadedModel? = nil) -> LLMEngine {
        let c = m.model.config
        var config = EngineConfiguration(threads: 2, kvCacheBytes: 4096 * c.layerCount * c.kvHeadCount * (c.headDim + c.valueDim) * 2)
        config.speculation = speculation
        config.numSpeculativeTokens = 8
        // Verify every proposal: the planner would skip some on a slow host, and every
        // verification path should run here.
        config.adaptiveSpeculation = false
        return LLMEngine(model: m.model, tokenizer: m.tokenizer, configuration: config, draft: draft?.model)
    }

    /// `tokens` with a deletion, an insertion and a substitution, as a code edit would leave them.
    private func edited(_ tokens: [Int32], filler: Int32) -> [Int32] {
        var p = tokens
        let n = p.count
        p[n * 3 / 4] = filler
        p.insert(contentsOf: [filler, filler], at: n / 2)
        p.removeSubrange(n / 5..<(n / 5 + 2))
        return p
    }

    /// `draft`: requests without a prediction speculate with this draft model instead of prompt lookup.
    private func checkLossless(_ name: String, draft draftName: String? = nil) async throws {
        let m = try LoadedModel(path: TestModels.path(name))
        let draft = try draftName.map { try LoadedModel(path: TestModels.path($0)) }
        let filler = m.encodeRaw("zebra").last!
        let adapter: LoRAAdapterWeights = try {
            let c = m.model.config
            let rms = try LoRAAdapter.baseWeightRMS(gguf: m.gguf, config: c)
            return try LoRAAdapterWeights(adapter: try LoRAAdapter.random(config: c, rank: 8, seed: 5, weightRMS: rms, strength: 0.06),
                                          config: c)
        }()
        let code = "def area(width, height):\n    result = width * height\n    return result\n\n\ndef perimeter(width, height):\n    return 2 * (width + height)\n"
        let editPrompt = try m.encodeChat([.user("Rename the parameter `width` to `w` in this code and reply with the code only:\n\n" + code)])
        let jsonPrompt = try m.encodeChat([.user("Describe a city as JSON.")])
        let schema = #"{"type":"object","properties":{"city":{"type":"string","maxLength":24},"population":{"type":"integer","minimum":0}},"required":["city","population"],"additionalProperties":false}"#
        let grammar = try JSONSchemaCompiler.compile(schema: schema)
        var requests = [
            GenerationRequest(prompt: editPrompt, maxTokens: 40, ignoreEOS: true, logprobs: 2),
            GenerationRequest(prompt: editPrompt, maxTokens: 40, ignoreEOS: true, logprobs: 1, loraSlot: 1),
            GenerationRequest(prompt: jsonPrompt, maxTokens: 40, grammar: grammar),
            GenerationRequest(prompt: m.encodeRaw(String(repeating: "one two three four five. ", count: 6)), maxTokens: 32, ignoreEOS: true),
        ]
        let plain = engine(m, speculation: .none)
        try plain.installAdapter(adapter, slot: 1)
        var reference: [EngineTestSupport.Outcome] = []
        for r in requests { reference.append(try await EngineTestSupport.collect(try plain.submit(r))) }
        plain.shutdown()

        let speculative = engine(m, speculation: draft == nil ? .ngram : .draft, draft: draft)
        defer { speculative.shutdown() }
        try speculative.installAdapter(adapter, slot: 1)
        // Each request twice: with an edited prediction of its output, and with prompt lookup
        // (or the draft). The second copy must not take the first's prompt blocks from the
        // prefix cache: a prompt continued from cached blocks ends in a shorter piece, which
        // rounds differently from the reference's whole pieces.
        for i in requests.indices {
            var copy = requests[i]
            copy.cacheIsolationKey = "second copy"
            requests.append(copy)
        }
        for i in 0..<(requests.count / 2) { requests[i].prediction = edited(reference[i].tokens[0], filler: filler) }
        let outcomes = try await withThrowingTaskGroup(of: (Int, EngineTestSupport.Outcome).self) { group in
            for (i, r) in requests.enumerated() {
                let stream = try speculative.submit(r)
                group.addTask { (i, try await EngineTestSupport.collect(stream)) }
            }
            var out = [EngineTestSupport.Outcome?](repeating: nil, count: requests.count)
            for try await (i, o) in group { out[i] = o }
            return out.map { $0! }
        }
        for (i, o) in outcomes.enumerated() {
            let want = reference[i % reference.count]
            let label = "\(name), request \(i % reference.count), \(i < reference.count ? "prediction" : draftName ?? "prompt lookup")"
            XCTAssertEqual(o.tokens[0], want.tokens[0], label)
            XCTAssertEqual(o.logprobs[0], want.logprobs[0], label)
            XCTAssertEqual(o.text[0], want.text[0], label)
            XCTAssertEqual(o.finish[0], want.finish[0], label)
        }
        for i in 0..<reference.count {
            let u = try XCTUnwrap(outcomes[i].usage)
            XCTAssertGreaterThan(u.acceptedPredictionTokens, 0, "\(name), request \(i)")
            XCTAssertEqual(u.completionTokens, reference[i].tokens[0].count + u.rejectedPredictionTokens)
        }
        let s = EngineTestSupport.eventually(speculative) { $0.activeRequests == 0 }
        XCTAssertEqual(s.usedBlocks, 0)
        XCTAssertGreaterThan(s.acceptedSpeculativeTokens, 0)
    }

    func testLosslessSmolLM() async throws { try await checkLossless("smollm2-135m-instruct") }
    func testLosslessGemma() async throws { try await checkLossless("gemma-3-270m") }
    func testLosslessQwen() async throws { try await checkLossless("qwen2.5-coder-0.5b-instruct") }
    func testLosslessQwen15B() async throws { try await checkLossless("qwen2.5-coder-1.5b-instruct") }
    func testLosslessQwen15BWithDraft() async throws {
        try await checkLossless("qwen2.5-coder-1.5b-instruct", draft: "qwen2.5-coder-0.5b-instruct")
    }

    /// A draft must share the model's vocabulary token for token.
    func testDraftWithAnotherVocabularyIsRefused() throws {
        let qwen = try LoadedModel(path: TestModels.path("qwen2.5-coder-1.5b-instruct"))
        XCTAssertNil(qwen.draftMismatch(try LoadedModel(path: TestModels.path("qwen2.5-coder-0.5b-instruct"))))
        let reason = try XCTUnwrap(qwen.draftMismatch(try LoadedModel(path: TestModels.path("smollm2-135m-instruct"))))
        XCTAssertTrue(reason.contains("vocabulary"), reason)
    }

    /// 1,000 requests that speculate from a prediction or by prompt lookup, a third of them
    /// abandoned mid-stream: afterwards every KV block is free or cached.
    func testThousandSpeculativeRequestsWithCancellationsLeaveNothingBehind() async throws {
        let m = try LoadedModel(path: TestModels.path("smollm2-135m-instruct"))
        let c = m.model.config
        var config = EngineConfiguration(threads: 2, kvCacheBytes: 8192 * c.layerCount * c.kvHeadCount * (c.headDim + c.valueDim) * 2,
                                         maxWaitingRequests: 1024)
        config.speculation = .ngram
        config.adaptiveSpeculation = false
        let e = LLMEngine(model: m.model, tokenizer: m.tokenizer, configuration: config)
        defer { e.shutdown() }
        let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
        let r = try await EngineTestSupport.churn(e, 0..<1000) { i in
            let text = (0..<(3 + i % 17)).map { words[($0 * 7 + i) % words.count] }.joined(separator: " ")
            let prediction = i % 2 == 0 ? m.tokenizer.encode(" " + text + " " + text, addSpecial: false, parseSpecial: false) : []
            return GenerationRequest(prompt: m.encodeRaw(text), maxTokens: 6 + i % 9, ignoreEOS: true, prediction: prediction)
        }
        XCTAssertEqual(r.finished, 666)
        XCTAssertEqual(r.cancelled, 334)
        let s = EngineTestSupport.eventually(e) { $0.activeRequests == 0 }
        XCTAssertEqual(s.runningSequences + s.waitingSequences, 0)
        XCTAssertEqual(s.usedBlocks, 0, "every block must be free or cached")
        XCTAssertGreaterThan(s.acceptedSpeculativeTokens, 0)
    }
}

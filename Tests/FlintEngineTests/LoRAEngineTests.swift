import FlintEngine
import FlintLoading
import FlintModels
import FlintTestSupport
import Foundation
import XCTest

/// Multi-LoRA through the engine: batch invariance with mixed adapters, slot reuse and the
/// prefix cache, refused slots, and the per-step adapter limit.
final class LoRAEngineTests: XCTestCase {
    static let texts = [
        "The quick brown fox jumps over the lazy dog because",
        "Paged attention stores keys and values in blocks of sixteen tokens, so",
        "1, 2, 3, 4, 5,",
        "Low-rank adapters add a small update to each projection; serving many of them at once",
    ]

    private func adapter(_ m: LoadedModel, seed: UInt64, rank: Int = 16) throws -> LoRAAdapterWeights {
        let config = m.model.config
        let rms = try LoRAAdapter.baseWeightRMS(gguf: m.gguf, config: config)
        // Strong enough that greedy output visibly depends on the adapter (see LoRAForwardTests).
        let a = try LoRAAdapter.random(config: config, rank: rank, seed: seed, weightRMS: rms, strength: 0.06)
        return try LoRAAdapterWeights(adapter: a, config: config)
    }

    private func engine(_ m: LoadedModel, maxBatched: Int = 512, maxLoras: Int = 8) -> LLMEngine {
        let c = m.model.config
        let bytes = 4096 * c.layerCount * c.kvHeadCount * (c.headDim + c.valueDim) * 2
        return LLMEngine(model: m.model, tokenizer: m.tokenizer,
                         configuration: EngineConfiguration(threads: 2, kvCacheBytes: bytes, maxBatchedTokens: maxBatched,
                                                            maxLorasPerBatch: maxLoras))
    }

    private func request(_ prompt: [Int32], slot: Int32, maxTokens: Int = 12) -> GenerationRequest {
        GenerationRequest(prompt: prompt, maxTokens: maxTokens, ignoreEOS: true, loraSlot: slot)
    }

    private func tokens(_ e: LLMEngine, _ prompt: [Int32], slot: Int32, maxTokens: Int = 12) async throws -> EngineTestSupport.Outcome {
        try await EngineTestSupport.collect(try e.submit(request(prompt, slot: slot, maxTokens: maxTokens)))
    }

    /// A sequence with adapter X gives the same greedy tokens alone and in a batch with
    /// sequences of adapters Y and Z, the base model, and another sequence of X (so its rows
    /// share a segment), with prompts chunked across passes.
    private func checkBatchInvariance(_ name: String) async throws {
        let m = try LoadedModel(path: TestModels.path(name))
        let prompts = Self.texts.map { m.encodeRaw($0) }
        let (x, y, z) = (try adapter(m, seed: 11), try adapter(m, seed: 12), try adapter(m, seed: 13, rank: 8))

        let alone = engine(m)
        try alone.installAdapter(x, slot: 1)
        let reference = try await tokens(alone, prompts[0], slot: 1).tokens[0]
        let base = try await tokens(alone, prompts[0], slot: 0).tokens[0]
        alone.shutdown()
        XCTAssertNotEqual(reference, base, "\(name): adapter X should change the output")

        // A small token budget splits prompts into chunks that share passes with decodes.
        let mixed = engine(m, maxBatched: 24)
        defer { mixed.shutdown() }
        try mixed.installAdapter(y, slot: 2)
        try mixed.installAdapter(x, slot: 5)
        try mixed.installAdapter(z, slot: 3)
        let jobs: [(prompt: Int, slot: Int32)] = [(1, 2), (0, 5), (3, 5), (2, 0), (1, 3), (0, 2), (3, 0)]
        let outcomes = try await withThrowingTaskGroup(of: (Int, [Int32]).self) { group in
            for (i, j) in jobs.enumerated() {
                let stream = try mixed.submit(request(prompts[j.prompt], slot: j.slot))
                group.addTask { (i, try await EngineTestSupport.collect(stream).tokens[0]) }
            }
            var out = Array(repeating: [Int32](), count: jobs.count)
            for try await (i, t) in group { out[i] = t }
            return out
        }
        XCTAssertEqual(outcomes[1], reference, "\(name): adapter X in a mixed batch")
        XCTAssertEqual(outcomes[3].count, 12)
        let s = EngineTestSupport.eventually(mixed) { $0.activeRequests == 0 }
        XCTAssertEqual(s.generatedTokensPerSlot[5], 24)
        XCTAssertEqual(s.generatedTokensPerSlot[0], 24)
        XCTAssertEqual(s.installedAdapters, 3)
    }

    func testBatchInvarianceSmolLM() async throws { try await checkBatchInvariance("smollm2-135m-instruct") }
    func testBatchInvarianceGemma() async throws { try await checkBatchInvariance("gemma-3-270m") }
    func testBatchInvarianceQwen() async throws { try await checkBatchInvariance("qwen2.5-coder-0.5b-instruct") }

    /// Installing another adapter in a slot must not serve blocks cached under the old one.
    func testSlotReuseDoesNotHitStalePrefixBlocks() async throws {
        let m = try LoadedModel(path: TestModels.path("smollm2-135m-instruct"))
        let prompt = m.encodeRaw(String(repeating: "A paged KV cache holds keys and values in fixed-size blocks; ", count: 4))
        XCTAssertGreaterThan(prompt.count, 48)
        let (x, y) = (try adapter(m, seed: 21), try adapter(m, seed: 22))

        let fresh = engine(m)
        try fresh.installAdapter(y, slot: 2)
        let expectedY = try await tokens(fresh, prompt, slot: 2).tokens[0]
        fresh.shutdown()

        let e = engine(m)
        defer { e.shutdown() }
        try e.installAdapter(x, slot: 1)
        let first = try await tokens(e, prompt, slot: 1)
        let again = try await tokens(e, prompt, slot: 1)
        XCTAssertGreaterThan(again.usage!.cachedPromptTokens, 0, "the same adapter reuses its prefix")
        XCTAssertEqual(again.tokens, first.tokens)

        try e.installAdapter(y, slot: 1)
        let reused = try await tokens(e, prompt, slot: 1)
        XCTAssertEqual(reused.usage!.cachedPromptTokens, 0, "a new adapter in the slot must not hit the old one's blocks")
        XCTAssertEqual(reused.tokens[0], expectedY)
        XCTAssertNotEqual(reused.tokens[0], first.tokens[0])
    }

    func testSubmitToEmptySlotIsRefused() async throws {
        let m = try LoadedModel(path: TestModels.path("smollm2-135m-instruct"))
        let e = engine(m)
        defer { e.shutdown() }
        let prompt = m.encodeRaw("Hello")
        XCTAssertThrowsError(try e.submit(request(prompt, slot: 4))) { error in
            guard case EngineError.invalidParameter(let name, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "lora_slot")
            XCTAssertTrue(reason.contains("slot 4"), reason)
        }
        try e.installAdapter(try adapter(m, seed: 3, rank: 8), slot: 4)
        XCTAssertTrue(e.hasAdapter(slot: 4))
        let out = try await tokens(e, prompt, slot: 4, maxTokens: 3)
        XCTAssertEqual(out.tokens[0].count, 3)
        XCTAssertTrue(try e.removeAdapter(slot: 4))
        XCTAssertFalse(try e.removeAdapter(slot: 4))
        XCTAssertThrowsError(try e.submit(request(prompt, slot: 4)))
        XCTAssertThrowsError(try e.submit(request(prompt, slot: -1)))
        XCTAssertThrowsError(try e.installAdapter(try adapter(m, seed: 3, rank: 8), slot: 0))
        // An adapter converted for another model never reaches the forward pass.
        let gemma = try LoadedModel(path: TestModels.path("gemma-3-270m"))
        XCTAssertThrowsError(try e.installAdapter(try adapter(gemma, seed: 3, rank: 8), slot: 6)) { error in
            guard case EngineError.invalidParameter(let name, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "adapter")
        }
        XCTAssertFalse(e.hasAdapter(slot: 6))
    }

    /// With a limit of 2 adapters per pass and 5 adapters in use, no pass mixes more than
    /// 2, every request still finishes, and each gives the tokens it gives alone.
    func testMaxLorasPerBatch() async throws {
        let m = try LoadedModel(path: TestModels.path("smollm2-135m-instruct"))
        let c = m.model.config
        let blockCount = 4096 / 16
        let runner = RecordingRunner(ModelRunner(model: m.model, blockSize: 16, blockCount: blockCount, threads: 2))
        let e = LLMEngine(executor: runner, tokenizer: m.tokenizer, blockCount: blockCount, contextLength: c.contextLength,
                          configuration: EngineConfiguration(threads: 2, maxLorasPerBatch: 2))
        defer { e.shutdown() }
        for slot in 1...5 { try e.installAdapter(try adapter(m, seed: UInt64(30 + slot), rank: 8), slot: Int32(slot)) }
        let prompt = m.encodeRaw(Self.texts[2])
        let expected = try await tokens(e, prompt, slot: 3, maxTokens: 6).tokens[0]
        let slots: [Int32] = [1, 2, 3, 0, 4, 5, 1, 3, 0, 2]
        let outcomes = try await withThrowingTaskGroup(of: (Int, [Int32]).self) { group in
            for (i, slot) in slots.enumerated() {
                let stream = try e.submit(request(prompt, slot: slot, maxTokens: 6))
                group.addTask { (i, try await EngineTestSupport.collect(stream).tokens[0]) }
            }
            var out = Array(repeating: [Int32](), count: slots.count)
            for try await (i, t) in group { out[i] = t }
            return out
        }
        for (i, slot) in slots.enumerated() where slot == 3 { XCTAssertEqual(outcomes[i], expected) }
        XCTAssertTrue(outcomes.allSatisfy { $0.count == 6 })
        XCTAssertLessThanOrEqual(runner.maxDistinctSlots, 2)
        XCTAssertEqual(runner.maxDistinctSlots, 2, "passes should still mix adapters up to the limit")
    }
}

/// Records the most distinct non-zero LoRA slots seen in one pass.
final class RecordingRunner: ModelExecutor, @unchecked Sendable {
    let inner: ModelRunner
    private(set) var maxDistinctSlots = 0

    init(_ inner: ModelRunner) { self.inner = inner }

    var vocabularySize: Int { inner.vocabularySize }

    func execute(_ batch: ForwardBatch) -> UnsafeBufferPointer<Float> {
        maxDistinctSlots = max(maxDistinctSlots, Set(batch.sequences.map(\.loraSlot).filter { $0 != 0 }).count)
        return inner.execute(batch)
    }
}

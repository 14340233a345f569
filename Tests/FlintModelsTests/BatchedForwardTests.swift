import FlintEngine
import FlintLoading
import FlintModels
import FlintTestSupport
import XCTest

/// A paged, batched forward pass gives each sequence exactly the logits of running it
/// alone: several sequences of different lengths in one batch, their KV blocks
/// scattered over the pool in shuffled order, one of them continuing a cached prefix;
/// with an F16 and with a Q8_0 KV cache.
final class BatchedForwardTests: XCTestCase {
    func testSmolLM2() throws { try check("smollm2-135m-instruct") }
    func testGemma3() throws { try check("gemma-3-270m") }
    func testQwen2() throws { try check("qwen2.5-coder-0.5b-instruct") }

    private func check(_ name: String) throws {
        for type in KVCacheType.allCases { try check(name, type) }
    }

    private func check(_ name: String, _ type: KVCacheType) throws {
        let golden = try Golden.load()
        let model = try ModelRegistry.load(try GGUFFile(path: try TestModels.path(name)))
        let key = Golden.models.first { $0.catalogName == name }!.key
        let prompts = golden[key]!.greedy.prefix(4).map(\.prompt_ids)
        let vocab = model.config.vocabularySize

        // Each prompt alone, the first in the same two chunks as below (a row rounds like
        // the chunk it runs in, as in llama.cpp; other sequences must not matter).
        let single = SequenceRunner(model: model, threads: 2, contextTokens: 256, kvCacheType: type)
        let split = prompts[0].count / 2
        var expected: [[Float]] = []
        for (i, p) in prompts.enumerated() {
            if i == 0 {
                _ = single.feed(Array(p[..<split]), at: 0)
                expected.append(Array(single.feed(Array(p[split...]), at: split)))
            } else {
                expected.append(Array(single.feed(p, at: 0)))
            }
        }

        // All prompts in one batch; the first one split into a cached prefix and a rest.
        let blockSize = 4
        let context = ForwardContext(threads: 2)
        let cache = KVCache(shape: model.shape, blockSize: blockSize, blockCount: 64, type: type)
        var free = Array(0..<64).map(Int32.init)
        var rng = SystemRandomNumberGenerator()
        free.shuffle(using: &rng)
        let tables: [[Int32]] = prompts.map { p in
            let n = (p.count + blockSize - 1) / blockSize
            defer { free.removeFirst(n) }
            return Array(free.prefix(n))
        }
        var prefix = ForwardBatch()
        prefix.append(tokens: Array(prompts[0][..<split]), startPosition: 0, blockTable: tables[0], blockSize: blockSize, wantLogits: false)
        _ = model.forward(prefix, cache: cache, context: context)

        var batch = ForwardBatch()
        batch.append(tokens: Array(prompts[0][split...]), startPosition: split, blockTable: tables[0], blockSize: blockSize)
        for i in 1..<prompts.count {
            batch.append(tokens: prompts[i], startPosition: 0, blockTable: tables[i], blockSize: blockSize)
        }
        let logits = model.forward(batch, cache: cache, context: context)
        XCTAssertEqual(logits.count, prompts.count * vocab)
        for i in 0..<prompts.count {
            var worst: Float = 0
            for t in 0..<vocab { worst = max(worst, abs(logits[i * vocab + t] - expected[i][t])) }
            XCTAssertEqual(worst, 0, "\(name), \(type) KV: sequence \(i) differs by \(worst) in a batch")
        }
    }
}

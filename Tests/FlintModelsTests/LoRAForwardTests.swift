import CAllocationCounter
import FlintLoading
import FlintModels
import FlintTensor
import FlintTestSupport
import Foundation
import XCTest

/// The multi-LoRA path of the forward pass against a merged reference: the same GGUF with
/// every adapted projection replaced by its weights dequantized to f32 plus scale·B·A
/// (computed in f32), run without adapters.
///
/// The LoRA path is run on the same base the reference starts from — the projections
/// dequantized to f32, without the update — so that the only difference is how the
/// update is applied. On the quantized base the comparison would mostly measure the
/// base's own rounding: the quantized model (Q8 activations against 4-bit weights) is
/// already 0.7–1.4 logits away from its dequantized f32 twin with no adapter at all.
/// That gap, and the LoRA path on the quantized base against the reference, are printed.
final class LoRAForwardTests: XCTestCase {
    func testMergedReferenceSmolLM2() throws { try checkMerged("smollm2-135m-instruct") }
    func testMergedReferenceGemma3() throws { try checkMerged("gemma-3-270m") }
    func testMergedReferenceQwen2() throws { try checkMerged("qwen2.5-coder-0.5b-instruct") }

    func testDecodeWithAdaptersAllocatesNothingSmolLM2() throws { try checkAllocations("smollm2-135m-instruct") }
    func testDecodeWithAdaptersAllocatesNothingGemma3() throws { try checkAllocations("gemma-3-270m") }

    /// Strong enough that every model's greedy output moves away from the base's within
    /// 16 tokens (the default 2% barely moves the smaller models' logits), so agreeing with
    /// the merged model shows the update is applied, not just that it is small.
    static let strength: Float = 0.06

    static func randomAdapter(_ gguf: GGUFFile, seed: UInt64, rank: Int = 16) throws -> LoRAAdapter {
        let config = try ModelConfig(gguf: gguf)
        let rms = try LoRAAdapter.baseWeightRMS(gguf: gguf, config: config)
        return try LoRAAdapter.random(config: config, rank: rank, seed: seed, weightRMS: rms, strength: strength)
    }

    /// f32 weights of every adapted projection: the base dequantized, plus scale·B·A when
    /// `merge` is set.
    static func mergedOverrides(_ gguf: GGUFFile, _ adapter: LoRAAdapter, merge: Bool = true) throws -> [String: [Float]] {
        var out: [String: [Float]] = [:]
        for key in adapter.keys {
            let w = adapter.weights[key]!
            let name = "blk.\(key.layer).\(key.target.ggufName).weight"
            let info = gguf.tensorInfo(name)!
            let m = WeightMatrix(type: info.type, rows: info.shape[1], columns: info.shape[0], data: gguf.data(of: info), owner: gguf)
            XCTAssertEqual(m.rows, w.outputSize)
            XCTAssertEqual(m.columns, w.inputSize)
            var merged = [Float](repeating: 0, count: m.rows * m.columns)
            let n = m.columns, r = w.rank, s = adapter.scale
            merged.withUnsafeMutableBufferPointer { dst in
                w.a.withUnsafeBufferPointer { a in
                    w.b.withUnsafeBufferPointer { b in
                        for o in 0..<m.rows {
                            let row = dst.baseAddress! + o * n
                            m.dequantizeRow(o, into: row)
                            for j in 0..<(merge ? r : 0) {
                                let c = s * b[o * r + j]
                                let aj = a.baseAddress! + j * n
                                for i in 0..<n { row[i] += c * aj[i] }
                            }
                        }
                    }
                }
            }
            out[name] = merged
        }
        return out
    }

    /// One sequence at a time through a paged cache: prompt logits, then greedy tokens.
    struct Runner {
        let model: any CausalLM
        let adapters: LoRATable
        let context = ForwardContext(threads: 2)
        let cache: KVCache
        let blockSize = 16

        init(model: any CausalLM, adapters: LoRATable = LoRATable()) {
            self.model = model
            self.adapters = adapters
            cache = KVCache(shape: model.shape, blockSize: 16, blockCount: 8)
        }

        func run(_ prompt: [Int32], slot: Int32, tokens: Int) -> (logits: [Float], greedy: [Int32]) {
            let table = (0..<8).map(Int32.init)
            var batch = ForwardBatch()
            batch.adapters = adapters
            batch.append(tokens: prompt, startPosition: 0, blockTable: table, blockSize: blockSize, loraSlot: slot)
            let first = Array(model.forward(batch, cache: cache, context: context))
            var greedy = [argmax(first)]
            while greedy.count < tokens {
                batch.removeAll()
                batch.append(tokens: [greedy.last!], startPosition: prompt.count + greedy.count - 1, blockTable: table,
                             blockSize: blockSize, loraSlot: slot)
                greedy.append(argmax(Array(model.forward(batch, cache: cache, context: context))))
            }
            return (first, greedy)
        }

        func argmax(_ x: [Float]) -> Int32 { Int32(x.indices.max { x[$0] < x[$1] }!) }
    }

    private func checkMerged(_ name: String) throws {
        let golden = try Golden.load()
        let key = Golden.models.first { $0.catalogName == name }!.key
        let prompts = golden[key]!.greedy.map(\.prompt_ids)
        let gguf = try GGUFFile(path: try TestModels.path(name))
        let adapter = try Self.randomAdapter(gguf, seed: 42)
        let quantized = try ModelRegistry.load(gguf)
        let weights = try LoRAAdapterWeights(adapter: adapter, config: quantized.config)
        let table = LoRATable([nil, weights])
        let dequantized = try ModelRegistry.load(gguf, overrides: try Self.mergedOverrides(gguf, adapter, merge: false))
        let lora = Runner(model: dequantized, adapters: table)
        let merged = Runner(model: try ModelRegistry.load(gguf, overrides: try Self.mergedOverrides(gguf, adapter)))
        let onQuantized = Runner(model: quantized, adapters: table)

        var worst: Float = 0, smallestChange = Float.infinity, quantizedGap: Float = 0, quantizedWorst: Float = 0
        var agreeing = 0, changed = 0, quantizedAgreeing = 0
        for p in prompts {
            let l = lora.run(p, slot: 1, tokens: 16)
            let m = merged.run(p, slot: 0, tokens: 16)
            let b = lora.run(p, slot: 0, tokens: 16)
            let diff = zip(l.logits, m.logits).map { abs($0 - $1) }.max()!
            worst = max(worst, diff)
            smallestChange = min(smallestChange, zip(l.logits, b.logits).map { abs($0 - $1) }.max()!)
            if l.greedy == m.greedy { agreeing += 1 }
            if l.greedy != b.greedy { changed += 1 }
            XCTAssertLessThanOrEqual(diff, 0.5, "\(name): LoRA path vs merged reference, prompt \(p)")

            let q = onQuantized.run(p, slot: 1, tokens: 16), qb = onQuantized.run(p, slot: 0, tokens: 1)
            quantizedWorst = max(quantizedWorst, zip(q.logits, m.logits).map { abs($0 - $1) }.max()!)
            quantizedGap = max(quantizedGap, zip(qb.logits, b.logits).map { abs($0 - $1) }.max()!)
            if q.greedy == m.greedy { quantizedAgreeing += 1 }
        }
        print("\(name): LoRA path vs merged max |Δlogit| \(worst), greedy-16 agree \(agreeing)/\(prompts.count); "
              + "adapter vs none: smallest max |Δlogit| \(smallestChange), greedy differs \(changed)/\(prompts.count); "
              + "quantized base: vs its f32 twin \(quantizedGap), LoRA vs merged \(quantizedWorst), greedy agree \(quantizedAgreeing)/\(prompts.count); "
              + "adapter \(weights.byteCount) bytes (\(weights.format)), \(weights.parameterCount) parameters")
        XCTAssertGreaterThanOrEqual(Double(agreeing), 0.9 * Double(prompts.count), "\(name): greedy agreement with the merged model")
        // The adapter must matter, or agreement proves nothing.
        XCTAssertGreaterThan(smallestChange, 1.0, "\(name): the adapter barely changes the logits")
        XCTAssertGreaterThanOrEqual(changed, prompts.count / 2, "\(name): the adapter rarely changes greedy output")
    }

    /// Decoding 32 sequences over three adapters and the base model allocates nothing once
    /// scratch memory has grown (as DecodeAllocationTests checks without adapters).
    private func checkAllocations(_ name: String) throws {
        let gguf = try GGUFFile(path: try TestModels.path(name))
        let model = try ModelRegistry.load(gguf)
        let table = LoRATable(try [nil] + (1...3).map { seed in
            try LoRAAdapterWeights(adapter: try Self.randomAdapter(gguf, seed: UInt64(seed), rank: 8), config: model.config)
        })
        let sequences = 32, blockSize = 16, blocksPerSequence = 4
        let context = ForwardContext(threads: 2)
        let cache = KVCache(shape: model.shape, blockSize: blockSize, blockCount: sequences * blocksPerSequence)
        let tables = (0..<sequences).map { s in (0..<blocksPerSequence).map { Int32(s * blocksPerSequence + $0) } }
        var batch = ForwardBatch()
        batch.adapters = table
        func decode(at position: Int) {
            batch.removeAll()
            for s in 0..<sequences {
                // Runs of equal slots and single ones, so both merged segments and lone rows occur.
                let slot = Int32([0, 1, 1, 2, 3, 3, 3][s % 7])
                batch.append(tokens: [Int32(100 + s)], startPosition: position, blockTable: tables[s], blockSize: blockSize, loraSlot: slot)
            }
            flint_allocation_counting(1)
            _ = model.forward(batch, cache: cache, context: context)
            flint_allocation_counting(0)
        }
        for p in 0..<20 { decode(at: p) }
        var counts: [Int] = []
        for p in 20..<24 {
            decode(at: p)
            counts.append(flint_allocation_count())
        }
        XCTAssertEqual(counts, [0, 0, 0, 0], "\(name): allocations per decode step with adapters")
    }
}

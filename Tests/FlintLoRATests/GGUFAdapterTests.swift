import Foundation
import FlintLoading
import FlintTestSupport
import XCTest

final class GGUFAdapterTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private func write(_ b: LoRAGGUFBuilder, _ name: String = "a.gguf") throws -> String {
        let path = dir.appendingPathComponent(name).path
        try Data(b.build()).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func adapterBuilder(arch: String = "llama", alpha: Float? = 16, rank: Int = 2, c: ModelConfig,
                                values: inout [String: [Float]]) -> LoRAGGUFBuilder {
        var b = LoRAGGUFBuilder()
        b.add("general.architecture", .string(arch))
        b.add("general.type", .string("adapter"))
        b.add("adapter.type", .string("lora"))
        if let alpha { b.add("adapter.lora.alpha", .f32(alpha)) }
        var rng = SplitMix64(seed: 8)
        // ggml dims: lora_a [in, r], lora_b [r, out] (see LoRAAdapter+GGUF.swift).
        for (layer, stem, n, m, f16) in [(0, "attn_q", c.hiddenSize, c.headCount * c.headDim, false),
                                         (c.layerCount - 1, "ffn_down", c.feedForwardSize, c.hiddenSize, true),
                                         (2, "attn_v", c.hiddenSize, c.kvHeadCount * c.valueDim, true)] {
            let a = randomFloats(rank * n, &rng), bv = randomFloats(m * rank, &rng)
            b.addTensor("blk.\(layer).\(stem).weight.lora_a", dims: [n, rank], values: a, f16: f16)
            b.addTensor("blk.\(layer).\(stem).weight.lora_b", dims: [rank, m], values: bv, f16: f16)
            values["\(layer).\(stem).a"] = f16 ? a.map { Float(Float16($0)) } : a
            values["\(layer).\(stem).b"] = f16 ? bv.map { Float(Float16($0)) } : bv
        }
        return b
    }

    func testLoadsLlamaCppLoRA() throws {
        let (_, c) = try smolConfig()
        var values: [String: [Float]] = [:]
        let path = try write(adapterBuilder(c: c, values: &values))
        let a = try LoRAAdapter.load(path: path)
        XCTAssertEqual(a.format, .gguf)
        XCTAssertEqual(a.architecture, "llama")
        XCTAssertEqual(a.rank, 2)
        XCTAssertEqual(a.alpha, 16)
        XCTAssertEqual(a.scale, Float(16) / Float(2))
        XCTAssertEqual(a.targets, [.q, .down, .v])
        XCTAssertEqual(a.layers, [0, 2, c.layerCount - 1])
        let q = try XCTUnwrap(a.weights(layer: 0, target: .q))
        XCTAssertEqual(q.inputSize, c.hiddenSize)
        XCTAssertEqual(q.outputSize, c.headCount * c.headDim)
        XCTAssertEqual(q.a, values["0.attn_q.a"])
        XCTAssertEqual(q.b, values["0.attn_q.b"])
        let down = try XCTUnwrap(a.weights(layer: c.layerCount - 1, target: .down))
        XCTAssertEqual(down.inputSize, c.feedForwardSize)
        XCTAssertEqual(down.a, values["\(c.layerCount - 1).ffn_down.a"])
        XCTAssertEqual(down.b, values["\(c.layerCount - 1).ffn_down.b"])
        XCTAssertEqual(a.weights(layer: 2, target: .v)?.outputSize, c.kvHeadCount * c.valueDim)
        XCTAssertNoThrow(try a.validate(against: c, maxRank: 2))
        assertLoRAError(try a.validate(against: c, maxRank: 1)) { $0 == .rankTooLarge(rank: 2, maxRank: 1) }
    }

    func testAlphaAbsentMeansScaleOne() throws {
        let (_, c) = try smolConfig()
        var values: [String: [Float]] = [:]
        let a = try LoRAAdapter.load(path: write(adapterBuilder(alpha: nil, c: c, values: &values)))
        XCTAssertEqual(a.scale, 1)
    }

    func testArchitectureMismatch() throws {
        let (_, c) = try smolConfig()
        var values: [String: [Float]] = [:]
        let a = try LoRAAdapter.load(path: write(adapterBuilder(arch: "gemma3", c: c, values: &values)))
        assertLoRAError(try a.validate(against: c, maxRank: 8)) { $0 == .architectureMismatch(adapter: "gemma3", model: c.architecture) }
    }

    func testMalformedAdapters() throws {
        let (_, c) = try smolConfig()
        var values: [String: [Float]] = [:]
        let good = adapterBuilder(c: c, values: &values)

        var notAdapter = good
        notAdapter.kvs = notAdapter.kvs.map { $0.0 == "general.type" ? ($0.0, .string("model")) : $0 }
        assertLoRAError(try LoRAAdapter.load(path: write(notAdapter, "1.gguf"))) {
            if case .unsupported(let m) = $0 { return m.contains("general.type") } else { return false }
        }

        var notLoRA = good
        notLoRA.kvs = notLoRA.kvs.map { $0.0 == "adapter.type" ? ($0.0, .string("control_vector")) : $0 }
        assertLoRAError(try LoRAAdapter.load(path: write(notLoRA, "2.gguf"))) {
            if case .unsupported(let m) = $0 { return m.contains("adapter.type") } else { return false }
        }

        var missingB = good
        missingB.tensors.removeAll { $0.name == "blk.2.attn_v.weight.lora_b" }
        assertLoRAError(try LoRAAdapter.load(path: write(missingB, "3.gguf"))) { $0 == .missingMatrix(layer: 2, target: .v, matrix: "lora_b") }

        // A stored as [r, in] (the old "finetune" layout): the ranks of A and B disagree.
        var transposed = good
        let i = transposed.tensors.firstIndex { $0.name == "blk.0.attn_q.weight.lora_a" }!
        transposed.tensors[i].dims.reverse()
        assertLoRAError(try LoRAAdapter.load(path: write(transposed, "4.gguf"))) {
            if case .rankMismatch(let m) = $0 { return m.contains("transposed") } else { return false }
        }

        for (name, module) in [("token_embd.weight.lora_a", "token_embd"), ("blk.1.attn_qkv.weight.lora_a", "attn_qkv")] {
            var extra = good
            extra.addTensor(name, dims: [4, 2], values: [Float](repeating: 0, count: 8))
            assertLoRAError(try LoRAAdapter.load(path: write(extra, "5.gguf"))) { $0 == .unknownTargetModule(module) }
        }
        var norm = good
        norm.addTensor("blk.1.attn_norm.weight", dims: [4], values: [0, 0, 0, 0])
        assertLoRAError(try LoRAAdapter.load(path: write(norm, "6.gguf"))) { if case .unexpectedTensor = $0 { return true } else { return false } }

        var mixedRank = LoRAGGUFBuilder()
        mixedRank.kvs = good.kvs
        mixedRank.addTensor("blk.0.attn_k.weight.lora_a", dims: [c.hiddenSize, 2], values: [Float](repeating: 0, count: c.hiddenSize * 2))
        mixedRank.addTensor("blk.0.attn_k.weight.lora_b", dims: [2, 192], values: [Float](repeating: 0, count: 384))
        mixedRank.addTensor("blk.1.attn_k.weight.lora_a", dims: [c.hiddenSize, 3], values: [Float](repeating: 0, count: c.hiddenSize * 3))
        mixedRank.addTensor("blk.1.attn_k.weight.lora_b", dims: [3, 192], values: [Float](repeating: 0, count: 576))
        assertLoRAError(try LoRAAdapter.load(path: write(mixedRank, "7.gguf"))) {
            if case .rankMismatch(let m) = $0 { return m.contains("mixed") } else { return false }
        }

        var empty = LoRAGGUFBuilder()
        empty.kvs = good.kvs
        assertLoRAError(try LoRAAdapter.load(path: write(empty, "8.gguf"))) { if case .unsupported = $0 { return true } else { return false } }

        // A truncated file is the GGUF reader's error, wrapped.
        let bytes = good.build()
        let cut = dir.appendingPathComponent("9.gguf")
        try Data(bytes[..<(bytes.count / 2)]).write(to: cut)
        assertLoRAError(try LoRAAdapter.load(path: cut.path)) { if case .gguf = $0 { return true } else { return false } }
    }
}

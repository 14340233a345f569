import Foundation
import FlintLoading
import FlintTestSupport
import XCTest

/// Writes a PEFT directory from a config dictionary and named (shape, values) tensors.
private func writePEFT(_ dir: URL, config: [String: Any], tensors: [(String, [Int], [Float])],
                       storage: SafeTensorsWriter.StorageType = .f32) throws {
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("adapter_config.json"))
    var w = SafeTensorsWriter()
    for (name, shape, values) in tensors { try w.add(name, shape: shape, values: values, as: storage) }
    try w.write(to: dir.appendingPathComponent("adapter_model.safetensors").path)
}

private func peftName(_ layer: Int, _ block: String, _ module: String, _ m: String) -> String {
    "base_model.model.model.layers.\(layer).\(block).\(module).lora_\(m).weight"
}

final class PEFTAdapterTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A q_proj + down_proj adapter for smollm2's dimensions (hidden 576, ffn 1536 are read from the model).
    private func smallAdapterTensors(_ c: ModelConfig, rank: Int, layers: [Int] = [0, 5], seed: UInt64 = 1)
        -> [(String, [Int], [Float])]
    {
        var rng = SplitMix64(seed: seed)
        var out: [(String, [Int], [Float])] = []
        for l in layers {
            for (block, module, n, m) in [("self_attn", "q_proj", c.hiddenSize, c.headCount * c.headDim),
                                          ("mlp", "down_proj", c.feedForwardSize, c.hiddenSize)] {
                out.append((peftName(l, block, module, "A"), [rank, n], randomFloats(rank * n, &rng)))
                out.append((peftName(l, block, module, "B"), [m, rank], randomFloats(m * rank, &rng)))
            }
        }
        return out
    }

    private func baseConfig(rank: Int = 4, targets: Any = ["q_proj", "down_proj"]) -> [String: Any] {
        ["peft_type": "LORA", "r": rank, "lora_alpha": 16, "target_modules": targets, "fan_in_fan_out": false,
         "bias": "none", "base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct"]
    }

    func testRandomAdapterRoundTrip() throws {
        let (gguf, config) = try smolConfig()
        let targets: Set<LoRATarget> = [.q, .v, .o, .gate, .down]
        let rms = try LoRAAdapter.baseWeightRMS(gguf: gguf, config: config, targets: targets)
        let adapter = try LoRAAdapter.random(config: config, rank: 4, alpha: 8, targets: targets, seed: 11, weightRMS: rms,
                                             baseModelName: "smollm2-135m-instruct")
        try adapter.writePEFT(to: dir.path)
        let loaded = try LoRAAdapter.load(path: dir.path)
        XCTAssertEqual(loaded.format, .peft)
        XCTAssertEqual(loaded.rank, 4)
        XCTAssertEqual(loaded.alpha, 8)
        XCTAssertEqual(loaded.scale, Float(8) / Float(4))
        XCTAssertEqual(loaded.targets, targets)
        XCTAssertEqual(loaded.baseModelName, "smollm2-135m-instruct")
        XCTAssertEqual(loaded.layers, Array(0..<config.layerCount))
        XCTAssertEqual(loaded.keys.count, config.layerCount * targets.count)
        for key in adapter.keys {
            let w = try XCTUnwrap(loaded.weights(layer: key.layer, target: key.target))
            XCTAssertEqual(w, adapter.weights[key])
        }
        let q = try XCTUnwrap(loaded.weights(layer: 3, target: .q))
        XCTAssertEqual(q.inputSize, config.hiddenSize)
        XCTAssertEqual(q.outputSize, config.headCount * config.headDim)
        let down = try XCTUnwrap(loaded.weights(layer: 3, target: .down))
        XCTAssertEqual(down.inputSize, config.feedForwardSize)
        XCTAssertEqual(down.outputSize, config.hiddenSize)
        XCTAssertNoThrow(try loaded.validate(against: config, maxRank: 4))
        // The safetensors file itself also loads through the file path.
        XCTAssertEqual(try LoRAAdapter.load(path: dir.appendingPathComponent("adapter_model.safetensors").path).keys.count, loaded.keys.count)
    }

    func testRandomAdapterIsDeterministicAndHasTheRequestedMagnitude() throws {
        let (gguf, config) = try smolConfig()
        let rms = try LoRAAdapter.baseWeightRMS(gguf: gguf, config: config, targets: [.q])
        XCTAssertGreaterThan(rms[.q]!, 0)
        let a1 = try LoRAAdapter.random(config: config, rank: 8, alpha: 16, targets: [.q], seed: 5, weightRMS: rms)
        let a2 = try LoRAAdapter.random(config: config, rank: 8, alpha: 16, targets: [.q], seed: 5, weightRMS: rms)
        let a3 = try LoRAAdapter.random(config: config, rank: 8, alpha: 16, targets: [.q], seed: 6, weightRMS: rms)
        XCTAssertEqual(a1.weights, a2.weights)
        XCTAssertNotEqual(a1.weights(layer: 0, target: .q), a3.weights(layer: 0, target: .q))

        // RMS of scale·B·A, by explicit multiplication, against strength × base RMS.
        let w = try XCTUnwrap(a1.weights(layer: 7, target: .q))
        var sum = 0.0
        for i in 0..<w.outputSize {
            for j in 0..<w.inputSize {
                var d: Float = 0
                for k in 0..<w.rank { d += w.b[i * w.rank + k] * w.a[k * w.inputSize + j] }
                sum += Double(a1.scale * d) * Double(a1.scale * d)
            }
        }
        let deltaRMS = Float((sum / Double(w.outputSize * w.inputSize)).squareRoot())
        let wanted = LoRAAdapter.defaultRandomStrength * rms[.q]!
        XCTAssertEqual(deltaRMS, wanted, accuracy: wanted * 0.25)
    }

    func testHalfPrecisionWeightsAndRSLoRA() throws {
        let (_, c) = try smolConfig()
        let tensors = smallAdapterTensors(c, rank: 4)
        var config = baseConfig()
        config["use_rslora"] = true
        for storage in [SafeTensorsWriter.StorageType.f16, .bf16] {
            let sub = dir.appendingPathComponent("\(storage)")
            try writePEFT(sub, config: config, tensors: tensors, storage: storage)
            let a = try LoRAAdapter.loadPEFT(directory: sub.path)
            XCTAssertEqual(a.scale, 16 / Float(4).squareRoot())
            let w = try XCTUnwrap(a.weights(layer: 5, target: .down))
            let source = tensors.first { $0.0 == peftName(5, "mlp", "down_proj", "A") }!.2
            for (x, y) in zip(w.a, source) {
                if storage == .f16 {
                    XCTAssertEqual(x, Float(Float16(y)))
                } else {
                    // bf16 keeps 8 significant bits: rounding moves a value by at most 2^-8 of it.
                    XCTAssertEqual(x, y, accuracy: abs(y) * 0x1p-8)
                }
            }
            XCTAssertNoThrow(try a.validate(against: c, maxRank: 16))
        }
    }

    func testTargetModulesAsString() throws {
        let (_, c) = try smolConfig()
        let tensors = smallAdapterTensors(c, rank: 2)
        for pattern in [#".*\.(q_proj|down_proj)"#, "all-linear"] {
            let sub = dir.appendingPathComponent(UUID().uuidString)
            try writePEFT(sub, config: baseConfig(rank: 2, targets: pattern), tensors: tensors)
            if pattern == "all-linear" {
                // Declares all seven, but only two have weights.
                assertLoRAError(try LoRAAdapter.loadPEFT(directory: sub.path)) {
                    if case .targetWithoutWeights = $0 { return true } else { return false }
                }
            } else {
                XCTAssertEqual(try LoRAAdapter.loadPEFT(directory: sub.path).targets, [.q, .down])
            }
        }
        let sub = dir.appendingPathComponent("embed")
        try writePEFT(sub, config: baseConfig(rank: 2, targets: #".*(embed_tokens|q_proj)"#), tensors: tensors)
        assertLoRAError(try LoRAAdapter.loadPEFT(directory: sub.path)) { $0 == .unknownTargetModule("embed_tokens") }
    }

    func testConfigErrors() throws {
        let (_, c) = try smolConfig()
        let tensors = smallAdapterTensors(c, rank: 4)
        func check(_ mutate: (inout [String: Any]) -> Void, _ expect: @escaping (LoRAError) -> Bool) throws {
            var config = baseConfig()
            mutate(&config)
            let sub = dir.appendingPathComponent(UUID().uuidString)
            try writePEFT(sub, config: config, tensors: tensors)
            assertLoRAError(try LoRAAdapter.loadPEFT(directory: sub.path), expect)
        }
        try check({ $0["target_modules"] = ["q_proj", "down_proj", "embed_tokens"] }) { $0 == .unknownTargetModule("embed_tokens") }
        try check({ $0["target_modules"] = ["q_proj", "down_proj", "lm_head"] }) { $0 == .unknownTargetModule("lm_head") }
        try check({ $0["fan_in_fan_out"] = true }) { if case .unsupported(let m) = $0 { return m.contains("fan_in_fan_out") } else { return false } }
        try check({ $0["bias"] = "all" }) { if case .unsupported(let m) = $0 { return m.contains("bias") } else { return false } }
        try check({ $0["use_dora"] = true }) { if case .unsupported(let m) = $0 { return m.contains("DoRA") } else { return false } }
        try check({ $0["rank_pattern"] = ["q_proj": 8] }) { if case .unsupported = $0 { return true } else { return false } }
        try check({ $0["r"] = nil }) { if case .badConfig(let m) = $0 { return m.contains("'r'") } else { return false } }
        try check({ $0["r"] = "four" }) { if case .badConfig(let m) = $0 { return m.contains("'r'") } else { return false } }
        try check({ $0["r"] = 0 }) { if case .badConfig = $0 { return true } else { return false } }
        try check({ $0["target_modules"] = 5 }) { if case .badConfig = $0 { return true } else { return false } }
        // Rank in the config disagrees with the tensors.
        try check({ $0["r"] = 8 }) { if case .rankMismatch(let m) = $0 { return m.contains("r = 8") } else { return false } }
        // A tensor for a module that target_modules does not list.
        try check({ $0["target_modules"] = ["q_proj"] }) { if case .unexpectedTensor = $0 { return true } else { return false } }
        // A declared module without weights.
        try check({ $0["target_modules"] = ["q_proj", "down_proj", "v_proj"] }) {
            $0 == .targetWithoutWeights(.v)
        }

        let notJSON = dir.appendingPathComponent("notjson")
        try writePEFT(notJSON, config: baseConfig(), tensors: tensors)
        try Data("{r: 4".utf8).write(to: notJSON.appendingPathComponent("adapter_config.json"))
        assertLoRAError(try LoRAAdapter.loadPEFT(directory: notJSON.path)) { if case .badConfig = $0 { return true } else { return false } }

        assertLoRAError(try LoRAAdapter.load(path: dir.appendingPathComponent("nothing").path)) { if case .missingFile = $0 { return true } else { return false } }
        let noWeights = dir.appendingPathComponent("noweights")
        try writePEFT(noWeights, config: baseConfig(), tensors: tensors)
        try FileManager.default.removeItem(at: noWeights.appendingPathComponent("adapter_model.safetensors"))
        assertLoRAError(try LoRAAdapter.loadPEFT(directory: noWeights.path)) { if case .missingFile = $0 { return true } else { return false } }

        let huge = dir.appendingPathComponent("huge")
        try writePEFT(huge, config: baseConfig(), tensors: tensors)
        try Data(repeating: 0x20, count: 1_100_000).write(to: huge.appendingPathComponent("adapter_config.json"))
        assertLoRAError(try LoRAAdapter.loadPEFT(directory: huge.path)) { if case .badConfig(let m) = $0 { return m.contains("limit") } else { return false } }

        let other = dir.appendingPathComponent("adapter.bin")
        try Data([0]).write(to: other)
        assertLoRAError(try LoRAAdapter.load(path: other.path)) { if case .unsupported = $0 { return true } else { return false } }

        let corrupt = dir.appendingPathComponent("corrupt")
        try writePEFT(corrupt, config: baseConfig(), tensors: tensors)
        try Data([1, 2, 3, 4, 5, 6, 7, 8, 9]).write(to: corrupt.appendingPathComponent("adapter_model.safetensors"))
        assertLoRAError(try LoRAAdapter.loadPEFT(directory: corrupt.path)) { if case .safeTensors = $0 { return true } else { return false } }
    }

    func testTensorErrors() throws {
        let (_, c) = try smolConfig()
        var tensors = smallAdapterTensors(c, rank: 4)
        func check(_ t: [(String, [Int], [Float])], targets: [String] = ["q_proj", "down_proj"], _ expect: @escaping (LoRAError) -> Bool) throws {
            let sub = dir.appendingPathComponent(UUID().uuidString)
            try writePEFT(sub, config: baseConfig(targets: targets), tensors: t)
            assertLoRAError(try LoRAAdapter.loadPEFT(directory: sub.path), expect)
        }
        // lora_B missing for layer 5 q_proj.
        try check(tensors.filter { $0.0 != peftName(5, "self_attn", "q_proj", "B") }) {
            $0 == .missingMatrix(layer: 5, target: .q, matrix: "lora_B")
        }
        try check(tensors.filter { $0.0 != peftName(0, "mlp", "down_proj", "A") }) {
            $0 == .missingMatrix(layer: 0, target: .down, matrix: "lora_A")
        }
        try check(tensors + [("base_model.model.lm_head.lora_A.weight", [4, 2], [Float](repeating: 0, count: 8))]) {
            $0 == .unknownTargetModule("lm_head")
        }
        try check(tensors + [("base_model.model.model.embed_tokens.lora_embedding_A", [4, 2], [Float](repeating: 0, count: 8))]) {
            $0 == .unknownTargetModule("embed_tokens")
        }
        try check(tensors + [(peftName(1, "self_attn", "rotary_proj", "A"), [4, 2], [Float](repeating: 0, count: 8))]) {
            $0 == .unknownTargetModule("rotary_proj")
        }
        try check(tensors + [("base_model.model.model.layers.1.self_attn.q_proj.lora_magnitude_vector", [2], [0, 0])]) {
            if case .unexpectedTensor = $0 { return true } else { return false }
        }
        try check(tensors + [(peftName(1, "mlp", "q_proj", "A"), [4, 2], [Float](repeating: 0, count: 8))]) {
            if case .unexpectedTensor(_, let r) = $0 { return r.contains("self_attn") } else { return false }
        }
        // B's rank column disagrees.
        let bName = peftName(0, "self_attn", "q_proj", "B")
        let i = tensors.firstIndex { $0.0 == bName }!
        tensors[i] = (bName, [c.headCount * c.headDim / 2, 8], [Float](repeating: 0, count: c.headCount * c.headDim * 4))
        try check(tensors) { if case .rankMismatch = $0 { return true } else { return false } }
    }

    func testValidationAgainstTheBaseModel() throws {
        let (_, real) = try smolConfig()
        let rms: [LoRATarget: Float] = Dictionary(uniqueKeysWithValues: LoRATarget.allCases.map { ($0, 0.05) })

        // Built for a model with a smaller hidden size.
        var narrow = real
        narrow.hiddenSize = real.hiddenSize - 64
        narrow.layerCount = 2
        let wrong = try LoRAAdapter.random(config: narrow, rank: 2, targets: [.q], seed: 1, weightRMS: rms)
        assertLoRAError(try wrong.validate(against: real, maxRank: 8)) {
            $0.description == "layer 0 q_proj lora_A has \(narrow.hiddenSize) input columns, the base model's q projection takes \(real.hiddenSize)"
        }
        var fewerHeads = real
        fewerHeads.layerCount = 2
        fewerHeads.kvHeadCount = real.kvHeadCount + 1
        let wrongOut = try LoRAAdapter.random(config: fewerHeads, rank: 2, targets: [.v], seed: 1, weightRMS: rms)
        assertLoRAError(try wrongOut.validate(against: real, maxRank: 8)) {
            $0.description.contains("v_proj lora_B has \((real.kvHeadCount + 1) * real.valueDim) output rows")
        }

        // More layers than the model has.
        var deeper = real
        deeper.layerCount = real.layerCount + 1
        let deep = try LoRAAdapter.random(config: deeper, rank: 2, targets: [.k], seed: 1, weightRMS: rms)
        assertLoRAError(try deep.validate(against: real, maxRank: 8)) {
            $0 == .layerOutOfRange(layer: real.layerCount, target: .k, layerCount: real.layerCount)
        }

        // Rank above the server's limit; every target's dimensions otherwise fit.
        let all = try LoRAAdapter.random(config: real, rank: 4, targets: Set(LoRATarget.allCases), seed: 2, weightRMS: rms)
        XCTAssertNoThrow(try all.validate(against: real, maxRank: 4))
        assertLoRAError(try all.validate(against: real, maxRank: 3)) { $0 == .rankTooLarge(rank: 4, maxRank: 3) }

        // Declared architecture differs.
        var other = real
        other.architecture = "gemma3"
        assertLoRAError(try all.validate(against: other, maxRank: 8)) { $0 == .architectureMismatch(adapter: real.architecture, model: "gemma3") }
    }

    func testAdapterNames() {
        for good in ["a", "my-adapter_v1.2", "A.b-c_D", String(repeating: "x", count: 64), "v1..x".replacingOccurrences(of: "..", with: ".")] {
            XCTAssertNoThrow(try LoRAAdapter.validateName(good), good)
        }
        for bad in ["", "../x", "a/b", "a\\b", ".hidden", "a..b", "..", String(repeating: "x", count: 65), "spa ce", "é", "a:b", "nul\0"] {
            assertLoRAError(try LoRAAdapter.validateName(bad)) {
                if case .invalidName = $0 { return true } else { return false }
            }
        }
    }
}

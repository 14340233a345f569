import Foundation

/// Hugging Face PEFT adapters: `adapter_config.json` + `adapter_model.safetensors`, with
/// tensors named `base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight`
/// (shape [r, in]) and `...lora_B.weight` (shape [out, r]) — already our convention.
extension LoRAAdapter {
    public static let peftConfigFile = "adapter_config.json"
    public static let peftWeightsFile = "adapter_model.safetensors"

    /// Larger ranks exist in no practical adapter; the bound keeps a hostile config
    /// from describing absurd sizes before any tensor is looked at.
    static let maxFileRank = 4096
    static let maxConfigBytes = 1_000_000

    public static func loadPEFT(directory: String, weightsFile: String = peftWeightsFile) throws -> LoRAAdapter {
        let dir = URL(fileURLWithPath: directory)
        let configPath = dir.appendingPathComponent(peftConfigFile).path
        let weightsPath = dir.appendingPathComponent(weightsFile).path
        guard FileManager.default.fileExists(atPath: configPath) else { throw LoRAError.missingFile(configPath) }
        guard FileManager.default.fileExists(atPath: weightsPath) else { throw LoRAError.missingFile(weightsPath) }
        // Real configs are about a kilobyte; refuse to read an arbitrarily large upload.
        let configSize = (try? FileManager.default.attributesOfItem(atPath: configPath)[.size] as? Int) ?? 0
        guard configSize <= maxConfigBytes else {
            throw LoRAError.badConfig("\(configPath) is \(configSize) bytes (limit \(maxConfigBytes))")
        }
        let configData: Data
        do { configData = try Data(contentsOf: URL(fileURLWithPath: configPath)) } catch {
            throw LoRAError.io("cannot read \(configPath): \(error.localizedDescription)")
        }
        let config = try PEFTConfig(json: configData)
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: weightsPath) } catch let e as SafeTensorsError { throw LoRAError.safeTensors(e) }
        return try fromPEFT(config: config, weights: file)
    }

    static func fromPEFT(config: PEFTConfig, weights file: SafeTensorsFile) throws -> LoRAAdapter {
        var a: [LoRAKey: (String, SafeTensorsTensorInfo)] = [:]
        var b: [LoRAKey: (String, SafeTensorsTensorInfo)] = [:]
        for info in file.tensors {
            let (key, isA) = try parsePEFTName(info.name)
            guard config.targets.contains(key.target) else {
                throw LoRAError.unexpectedTensor(name: info.name, reason: "\(key.target.peftName) is not in target_modules")
            }
            guard info.dtype.isReadableAsFloat else {
                throw LoRAError.unexpectedTensor(name: info.name, reason: "dtype \(info.dtype.rawValue) (F32, F16 or BF16 expected)")
            }
            guard info.shape.count == 2 else {
                throw LoRAError.shapeMismatch("\(info.name) has shape \(info.shape), expected 2 dimensions")
            }
            if isA { a[key] = (info.name, info) } else { b[key] = (info.name, info) }
        }
        var all: [LoRAWeights] = []
        for key in Set(a.keys).union(b.keys).sorted() {
            guard let (aName, ai) = a[key] else { throw LoRAError.missingMatrix(layer: key.layer, target: key.target, matrix: "lora_A") }
            guard let (bName, bi) = b[key] else { throw LoRAError.missingMatrix(layer: key.layer, target: key.target, matrix: "lora_B") }
            let r = config.rank
            guard ai.shape[0] == r else {
                throw LoRAError.rankMismatch("\(aName) has shape \(ai.shape): rank \(ai.shape[0]), but adapter_config.json says r = \(r)")
            }
            guard bi.shape[1] == r else {
                throw LoRAError.rankMismatch("\(bName) has shape \(bi.shape): rank \(bi.shape[1]), but adapter_config.json says r = \(r)")
            }
            do {
                all.append(try LoRAWeights(layer: key.layer, target: key.target, rank: r, inputSize: ai.shape[1], outputSize: bi.shape[0],
                                           a: file.floats(aName), b: file.floats(bName)))
            } catch let e as SafeTensorsError { throw LoRAError.safeTensors(e) }
        }
        return try LoRAAdapter(rank: config.rank, alpha: config.alpha, useRSLoRA: config.useRSLoRA, targets: config.targets,
                               architecture: nil, baseModelName: config.baseModelName, format: .peft, weights: all)
    }

    /// `<prefix>layers.{i}.{self_attn|mlp}.{module}.lora_{A|B}.weight`. The prefix varies
    /// between model classes (`base_model.model.model.`, `...model.language_model.`), so
    /// only the part from `layers` on is interpreted; anything else is rejected.
    static func parsePEFTName(_ name: String) throws -> (LoRAKey, isA: Bool) {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        for module in ["embed_tokens", "lm_head"] where parts.contains(where: { $0 == module }) {
            throw LoRAError.unknownTargetModule(module)
        }
        guard let li = parts.lastIndex(of: "layers"), parts.count == li + 6 else {
            throw LoRAError.unexpectedTensor(name: name, reason: "not of the form ...layers.N.<self_attn|mlp>.<module>.lora_<A|B>.weight")
        }
        guard let layer = Int(parts[li + 1]), layer >= 0, layer < 100_000 else {
            throw LoRAError.unexpectedTensor(name: name, reason: "'\(parts[li + 1])' is not a layer index")
        }
        let block = parts[li + 2], module = parts[li + 3], matrix = parts[li + 4]
        guard let target = LoRATarget(peftName: module) else { throw LoRAError.unknownTargetModule(module) }
        guard block == target.peftBlock else {
            throw LoRAError.unexpectedTensor(name: name, reason: "\(module) is expected under \(target.peftBlock), not \(block)")
        }
        guard matrix == "lora_A" || matrix == "lora_B", parts[li + 5] == "weight" else {
            throw LoRAError.unexpectedTensor(name: name, reason: "expected lora_A.weight or lora_B.weight (DoRA and bias tensors are not supported)")
        }
        return (LoRAKey(layer: layer, target: target), matrix == "lora_A")
    }

    // MARK: writing

    /// Writes `adapter_config.json` and `adapter_model.safetensors` (f32 by default),
    /// creating the directory if needed.
    public func writePEFT(to directory: String, storage: SafeTensorsWriter.StorageType = .f32) throws {
        let dir = URL(fileURLWithPath: directory)
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw LoRAError.io("cannot create \(directory): \(error.localizedDescription)")
        }
        var writer = SafeTensorsWriter()
        writer.metadata = ["format": "pt"]
        for key in keys {
            let w = weights[key]!
            let stem = "base_model.model.model.layers.\(w.layer).\(w.target.peftBlock).\(w.target.peftName)"
            do {
                try writer.add(stem + ".lora_A.weight", shape: [w.rank, w.inputSize], values: w.a, as: storage)
                try writer.add(stem + ".lora_B.weight", shape: [w.outputSize, w.rank], values: w.b, as: storage)
            } catch let e as SafeTensorsError { throw LoRAError.safeTensors(e) }
        }
        var config: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": Double(alpha),
            "use_rslora": useRSLoRA, "fan_in_fan_out": false, "bias": "none", "lora_dropout": 0.0,
            "inference_mode": true, "target_modules": targets.sorted().map(\.peftName),
        ]
        if let baseModelName { config["base_model_name_or_path"] = baseModelName }
        do {
            let json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
            try json.write(to: dir.appendingPathComponent(Self.peftConfigFile), options: .atomic)
        } catch {
            throw LoRAError.io("cannot write \(Self.peftConfigFile) in \(directory): \(error.localizedDescription)")
        }
        do { try writer.write(to: dir.appendingPathComponent(Self.peftWeightsFile).path) } catch let e as SafeTensorsError {
            throw LoRAError.safeTensors(e)
        }
    }
}

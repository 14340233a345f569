import Foundation

/// The low-rank update of one projection in one layer: delta W = scale · B·A.
/// `a` is rank × inputSize and `b` is outputSize × rank, both row-major f32, so that
/// y = W·x + scale · B·(A·x).
public struct LoRAWeights: Sendable, Equatable {
    public let layer: Int
    public let target: LoRATarget
    public let rank: Int
    public let inputSize: Int
    public let outputSize: Int
    public let a: [Float]
    public let b: [Float]

    public init(layer: Int, target: LoRATarget, rank: Int, inputSize: Int, outputSize: Int, a: [Float], b: [Float]) throws {
        guard layer >= 0 else { throw LoRAError.shapeMismatch("layer index \(layer) is negative") }
        guard rank >= 1, inputSize >= 1, outputSize >= 1 else {
            throw LoRAError.shapeMismatch("layer \(layer) \(target.peftName): rank \(rank), input \(inputSize), output \(outputSize) must all be positive")
        }
        guard a.count == rank * inputSize else {
            throw LoRAError.shapeMismatch("layer \(layer) \(target.peftName) lora_A has \(a.count) values, expected \(rank) × \(inputSize)")
        }
        guard b.count == outputSize * rank else {
            throw LoRAError.shapeMismatch("layer \(layer) \(target.peftName) lora_B has \(b.count) values, expected \(outputSize) × \(rank)")
        }
        self.layer = layer
        self.target = target
        self.rank = rank
        self.inputSize = inputSize
        self.outputSize = outputSize
        self.a = a
        self.b = b
    }
}

/// Identifies one adapted projection.
public struct LoRAKey: Hashable, Sendable, Comparable {
    public let layer: Int
    public let target: LoRATarget

    public init(layer: Int, target: LoRATarget) {
        self.layer = layer
        self.target = target
    }

    public static func < (x: LoRAKey, y: LoRAKey) -> Bool { (x.layer, x.target) < (y.layer, y.target) }
}

/// A LoRA adapter in a model-independent form: whatever file it came from, the
/// matrices are f32 in the A (rank × in) / B (out × rank) convention, with a single
/// rank and scale. Checking it against a base model is a separate step (`validate`),
/// so an adapter can be loaded before deciding where it goes.
public struct LoRAAdapter: Sendable {
    public enum Format: String, Sendable {
        case peft, gguf, generated
    }

    public let rank: Int
    public let alpha: Float
    public let useRSLoRA: Bool
    /// alpha / rank, or alpha / sqrt(rank) with rsLoRA.
    public let scale: Float
    /// Projections the adapter declares (some layers may leave some of them out).
    public let targets: Set<LoRATarget>
    /// Base architecture when the file states one in a checkable form (GGUF).
    public let architecture: String?
    /// Free-text base model name (PEFT `base_model_name_or_path`); informational only.
    public let baseModelName: String?
    public let format: Format
    public let weights: [LoRAKey: LoRAWeights]

    public init(rank: Int, alpha: Float, useRSLoRA: Bool = false, targets: Set<LoRATarget>? = nil,
                architecture: String? = nil, baseModelName: String? = nil, format: Format = .generated,
                weights: [LoRAWeights]) throws {
        guard rank >= 1 else { throw LoRAError.badConfig("rank \(rank) must be at least 1") }
        guard alpha.isFinite else { throw LoRAError.badConfig("lora_alpha \(alpha) is not a finite number") }
        guard !weights.isEmpty else { throw LoRAError.unsupported("the adapter has no LoRA weights") }
        var map: [LoRAKey: LoRAWeights] = [:]
        for w in weights {
            let key = LoRAKey(layer: w.layer, target: w.target)
            guard map[key] == nil else {
                throw LoRAError.unexpectedTensor(name: "layer \(w.layer) \(w.target.peftName)", reason: "appears twice")
            }
            guard w.rank == rank else {
                throw LoRAError.rankMismatch("layer \(w.layer) \(w.target.peftName) has rank \(w.rank), the adapter's rank is \(rank)")
            }
            map[key] = w
        }
        let present = Set(weights.map(\.target))
        let declared = targets ?? present
        if let undeclared = present.subtracting(declared).min() {
            throw LoRAError.unexpectedTensor(name: undeclared.peftName, reason: "has weights but is not in target_modules")
        }
        if let absent = declared.subtracting(present).min() {
            throw LoRAError.targetWithoutWeights(absent)
        }
        self.rank = rank
        self.alpha = alpha
        self.useRSLoRA = useRSLoRA
        self.scale = useRSLoRA ? alpha / Float(rank).squareRoot() : alpha / Float(rank)
        self.targets = declared
        self.architecture = architecture
        self.baseModelName = baseModelName
        self.format = format
        self.weights = map
    }

    public func weights(layer: Int, target: LoRATarget) -> LoRAWeights? {
        weights[LoRAKey(layer: layer, target: target)]
    }

    /// Every adapted (layer, target), in layer then target order.
    public var keys: [LoRAKey] { weights.keys.sorted() }

    /// Layers that have at least one adapted projection.
    public var layers: [Int] { Set(weights.keys.map(\.layer)).sorted() }

    public var parameterCount: Int { weights.values.reduce(0) { $0 + $1.a.count + $1.b.count } }

    /// Bytes the f32 matrices occupy (what a registry's memory budget counts).
    public var byteCount: Int { parameterCount * MemoryLayout<Float>.size }

    /// Checks that the adapter can be applied to a model with this configuration.
    public func validate(against config: ModelConfig, maxRank: Int) throws {
        guard rank <= maxRank else { throw LoRAError.rankTooLarge(rank: rank, maxRank: maxRank) }
        if let architecture, architecture != config.architecture {
            throw LoRAError.architectureMismatch(adapter: architecture, model: config.architecture)
        }
        for key in keys {
            let w = weights[key]!
            guard w.layer < config.layerCount else {
                throw LoRAError.layerOutOfRange(layer: w.layer, target: w.target, layerCount: config.layerCount)
            }
            let inputs = w.target.inputSize(config), outputs = w.target.outputSize(config)
            guard w.inputSize == inputs else {
                throw LoRAError.dimensionMismatch(
                    "layer \(w.layer) \(w.target.peftName) lora_A has \(w.inputSize) input columns, the base model's \(w.target.rawValue) projection takes \(inputs)")
            }
            guard w.outputSize == outputs else {
                throw LoRAError.dimensionMismatch(
                    "layer \(w.layer) \(w.target.peftName) lora_B has \(w.outputSize) output rows, the base model's \(w.target.rawValue) projection produces \(outputs)")
            }
        }
    }

    /// Adapter names become URL path segments, metric labels and directory names, so
    /// they are restricted to a set that is safe in all three.
    public static func validateName(_ name: String) throws {
        guard !name.isEmpty else { throw LoRAError.invalidName(name, reason: "it is empty") }
        guard name.utf8.count <= 64 else { throw LoRAError.invalidName(String(name.prefix(64)) + "…", reason: "it is longer than 64 characters") }
        if name.contains("/") || name.contains("\\") {
            throw LoRAError.invalidName(name, reason: "it contains a path separator")
        }
        guard name.first != "." else { throw LoRAError.invalidName(name, reason: "it starts with '.'") }
        guard !name.contains("..") else { throw LoRAError.invalidName(name, reason: "it contains '..'") }
        for u in name.utf8 {
            let ok = (u >= 0x30 && u <= 0x39) || (u >= 0x41 && u <= 0x5A) || (u >= 0x61 && u <= 0x7A)
                || u == UInt8(ascii: ".") || u == UInt8(ascii: "_") || u == UInt8(ascii: "-")
            guard ok else {
                throw LoRAError.invalidName(name, reason: "only letters, digits, '.', '_' and '-' are allowed")
            }
        }
    }

    /// Loads a PEFT directory, a PEFT `.safetensors` file (with `adapter_config.json`
    /// beside it) or a llama.cpp `.gguf` LoRA.
    public static func load(path: String) throws -> LoRAAdapter {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw LoRAError.missingFile(path) }
        if isDirectory.boolValue { return try loadPEFT(directory: path) }
        if path.hasSuffix(".gguf") { return try loadGGUF(path: path) }
        if path.hasSuffix(".safetensors") {
            return try loadPEFT(directory: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                weightsFile: URL(fileURLWithPath: path).lastPathComponent)
        }
        throw LoRAError.unsupported("\(path) is neither a PEFT directory, a .safetensors file nor a .gguf file")
    }
}

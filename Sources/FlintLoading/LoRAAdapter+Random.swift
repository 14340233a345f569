import FlintTensor

/// Random adapters for testing multi-LoRA serving without a training run.
extension LoRAAdapter {
    /// Relative size of the update against the base weights: scale·B·A gets a
    /// per-element RMS of this fraction of the base projection's weight RMS. At 2% each
    /// projection's output moves by about 2%; summed over every layer that is enough to
    /// change greedy continuations after a few tokens, yet far from turning the model
    /// into noise (which starts somewhere above ~20%).
    public static let defaultRandomStrength: Float = 0.02

    /// A = uniform(-a, a) with a = 1/sqrt(in) (so A·x keeps the scale of x), and B =
    /// uniform(-b, b) with b solved from RMS(scale·B·A) = strength · weightRMS[target]:
    /// each element of B·A sums `rank` products of independent uniforms with variances
    /// a²/3 and b²/3, so RMS(scale·B·A) = scale · sqrt(rank) · a · b / 3.
    public static func random(config: ModelConfig, rank: Int, alpha: Float? = nil,
                              targets: Set<LoRATarget> = Set(LoRATarget.allCases), seed: UInt64,
                              weightRMS: [LoRATarget: Float], strength: Float = defaultRandomStrength,
                              baseModelName: String? = nil) throws -> LoRAAdapter {
        guard rank >= 1, rank <= maxFileRank else { throw LoRAError.badConfig("rank \(rank) is outside 1...\(maxFileRank)") }
        guard !targets.isEmpty else { throw LoRAError.badConfig("no target projections given") }
        guard strength.isFinite, strength >= 0 else { throw LoRAError.badConfig("strength \(strength) must be a non-negative number") }
        let alpha = alpha ?? Float(2 * rank)
        guard alpha.isFinite, alpha != 0 else { throw LoRAError.badConfig("alpha \(alpha) must be a non-zero number") }
        let scale = alpha / Float(rank)
        var rng = LoRARandomGenerator(seed: seed)
        var all: [LoRAWeights] = []
        for layer in 0..<config.layerCount {
            for target in targets.sorted() {
                let n = target.inputSize(config), m = target.outputSize(config)
                let rms = weightRMS[target] ?? 0
                guard rms.isFinite, rms >= 0 else { throw LoRAError.badConfig("weight RMS \(rms) for \(target.peftName) is not usable") }
                let aBound = 1 / Float(n).squareRoot()
                let bBound = 3 * strength * rms / (abs(scale) * Float(rank).squareRoot() * aBound)
                let a = (0..<(rank * n)).map { _ in rng.uniform(aBound) }
                let b = (0..<(m * rank)).map { _ in rng.uniform(bBound) }
                all.append(try LoRAWeights(layer: layer, target: target, rank: rank, inputSize: n, outputSize: m, a: a, b: b))
            }
        }
        return try LoRAAdapter(rank: rank, alpha: alpha, targets: targets, architecture: config.architecture,
                               baseModelName: baseModelName, format: .generated, weights: all)
    }

    /// RMS of each target projection's base weights, from up to 16 rows in each of the
    /// first, middle and last layers (enough for a magnitude, cheap on any model size).
    public static func baseWeightRMS(gguf: GGUFFile, config: ModelConfig,
                                     targets: Set<LoRATarget> = Set(LoRATarget.allCases)) throws -> [LoRATarget: Float] {
        var result: [LoRATarget: Float] = [:]
        let layers = Set([0, config.layerCount / 2, config.layerCount - 1]).sorted()
        for target in targets {
            var sum = 0.0, count = 0
            for layer in layers {
                let name = "blk.\(layer).\(target.ggufName).weight"
                guard let info = gguf.tensorInfo(name) else { throw LoRAError.gguf(.missingTensor(name)) }
                guard info.shape.count == 2 else {
                    throw LoRAError.gguf(.wrongTensorShape(name: name, expected: [target.inputSize(config), target.outputSize(config)], found: info.shape))
                }
                let w = WeightMatrix(type: info.type, rows: info.shape[1], columns: info.shape[0], data: gguf.data(of: info), owner: gguf)
                var row = [Float](repeating: 0, count: w.columns)
                let step = max(1, w.rows / 16)
                for r in stride(from: 0, to: w.rows, by: step).prefix(16) {
                    row.withUnsafeMutableBufferPointer { w.dequantizeRow(r, into: $0.baseAddress!) }
                    for x in row { sum += Double(x) * Double(x) }
                    count += row.count
                }
            }
            result[target] = Float((sum / Double(max(count, 1))).squareRoot())
        }
        return result
    }
}

/// SplitMix64: tiny, and the same sequence on every platform for a given seed, so a
/// generated adapter is reproducible from its seed.
struct LoRARandomGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-bound, bound), from the top 24 bits (a Float's precision).
    mutating func uniform(_ bound: Float) -> Float {
        let unit = Float(next() >> 40) * 0x1p-24
        return (2 * unit - 1) * bound
    }
}

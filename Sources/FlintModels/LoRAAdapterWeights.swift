import CFlintKernels
import FlintLoading
import FlintTensor

/// A LoRA adapter converted for the forward pass: per (layer, projection) an A matrix
/// (rank × in) and a B matrix (out × rank, already multiplied by the adapter's scale) in
/// a format `flint_gemm` takes, all in one owned allocation.
///
/// The default format is Q8_0. With many adapters in one batch the step reads every
/// distinct adapter once, so adapter bytes are what a mixed batch pays for: Q8_0 is
/// 1.06 bytes per parameter against 4 for f32 and 2 for f16, and its rounding error
/// (about 0.4% of each value) only touches the low-rank update, itself a few percent of
/// the projection's output. With Q8_0, B is stored transposed (rank rows of `out`
/// elements, see `flint_lora_expand_q8_0`): its natural rows are only `rank` long, too
/// short for Q8_0 blocks without padding and for dot products to run efficiently.
/// The F32 and F16 formats keep B as out × rank for `flint_gemm` (for comparisons).
public final class LoRAAdapterWeights: @unchecked Sendable {
    /// One adapted projection: raw pointers into `storage`.
    struct Projection {
        let a: UnsafeRawPointer
        let aStride: Int
        let aType: DType
        let b: UnsafeRawPointer
        let bStride: Int
        let bType: DType
        /// Rows of A (the adapter's rank).
        let rank: Int
        /// Columns of B: the rank, padded for B's block size.
        let innerSize: Int
        /// B is stored transposed in Q8_0 (rank rows of outputSize), for `flint_lora_expand_q8_0`.
        let transposedB: Bool
        let inputSize: Int
        let outputSize: Int
    }

    public let rank: Int
    public let scale: Float
    /// The format A and B are stored in (with Q8_0, A falls back to F16 where a
    /// projection's input size is not a multiple of 32, and B where its output size is not).
    public let format: DType
    public let layerCount: Int
    /// The shape of the model it was converted for (see `fits(_:)`).
    private let modelShape: [Int]
    public let architecture: String
    /// Bytes of the converted matrices.
    public let byteCount: Int
    /// The adapter's parameter count (A and B, unpadded).
    public let parameterCount: Int
    /// Indexed by `layer * LoRATarget.allCases.count + target index`; nil where the
    /// adapter leaves a projection alone.
    let projections: [Projection?]
    private let storage: UnsafeMutableRawPointer

    public static let supportedFormats: [DType] = [.f32, .f16, .q8_0]

    /// Checks `adapter` against `config` (rank up to `maxRank`) and converts it.
    public init(adapter: LoRAAdapter, config: ModelConfig, format: DType = .q8_0, maxRank: Int = 256) throws {
        try adapter.validate(against: config, maxRank: maxRank)
        guard Self.supportedFormats.contains(format) else {
            throw LoRAError.unsupported("adapter weights can be stored as F32, F16 or Q8_0, not \(format)")
        }
        rank = adapter.rank
        scale = adapter.scale
        self.format = format
        layerCount = config.layerCount
        modelShape = Self.shape(of: config)
        architecture = config.architecture
        parameterCount = adapter.parameterCount
        let targets = LoRATarget.allCases

        struct Layout {
            let key: LoRAKey, aType: DType, bType: DType, inner: Int, transposed: Bool, bStride: Int, aOffset: Int, bOffset: Int
        }
        var layouts: [Layout] = []
        var bytes = 0
        func align(_ n: Int) -> Int { (n + 63) & ~63 }
        for key in adapter.keys {
            let w = adapter.weights[key]!
            let aType: DType = format == .q8_0 && w.inputSize % 32 != 0 ? .f16 : format
            let transposed = format == .q8_0 && w.outputSize % 32 == 0
            // Without the transposed layout a Q8_0 B would need rows padded to 32.
            let bType: DType = format == .q8_0 && !transposed ? .f16 : format
            let inner = w.rank
            let bStride = transposed ? DType.q8_0.rowBytes(w.outputSize) : bType.rowBytes(inner)
            let aOffset = bytes
            bytes = align(bytes + w.rank * aType.rowBytes(w.inputSize))
            let bOffset = bytes
            bytes = align(bytes + (transposed ? w.rank : w.outputSize) * bStride)
            layouts.append(Layout(key: key, aType: aType, bType: bType, inner: inner, transposed: transposed, bStride: bStride,
                                  aOffset: aOffset, bOffset: bOffset))
        }
        byteCount = bytes
        storage = .allocate(byteCount: max(64, bytes), alignment: 64)

        var table = [Projection?](repeating: nil, count: config.layerCount * targets.count)
        var row = [Float]()
        for l in layouts {
            let w = adapter.weights[l.key]!
            let aStride = l.aType.rowBytes(w.inputSize), bStride = l.bStride
            let a = storage + l.aOffset, b = storage + l.bOffset
            w.a.withUnsafeBufferPointer { src in
                for r in 0..<w.rank {
                    flint_quantize_row(l.aType.rawValue, src.baseAddress! + r * w.inputSize, a + r * aStride, Int64(w.inputSize))
                }
            }
            // The scale goes into B, so the forward pass adds B·(A·x) as it comes.
            if l.transposed {
                row = [Float](repeating: 0, count: w.outputSize)
                for j in 0..<w.rank {
                    for o in 0..<w.outputSize { row[o] = scale * w.b[o * w.rank + j] }
                    row.withUnsafeBufferPointer { flint_quantize_row(DType.q8_0.rawValue, $0.baseAddress!, b + j * bStride, Int64(w.outputSize)) }
                }
            } else {
                row = [Float](repeating: 0, count: l.inner)
                for o in 0..<w.outputSize {
                    for j in 0..<w.rank { row[j] = scale * w.b[o * w.rank + j] }
                    row.withUnsafeBufferPointer { flint_quantize_row(l.bType.rawValue, $0.baseAddress!, b + o * bStride, Int64(l.inner)) }
                }
            }
            let index = l.key.layer * targets.count + targets.firstIndex(of: l.key.target)!
            table[index] = Projection(a: UnsafeRawPointer(a), aStride: aStride, aType: l.aType, b: UnsafeRawPointer(b),
                                      bStride: bStride, bType: l.bType, rank: w.rank, innerSize: l.inner, transposedB: l.transposed,
                                      inputSize: w.inputSize, outputSize: w.outputSize)
        }
        projections = table
    }

    deinit { storage.deallocate() }

    /// Whether the adapter was converted for a model of this architecture and shape (an
    /// adapter for another model must not reach the forward pass).
    public func fits(_ config: ModelConfig) -> Bool {
        architecture == config.architecture && modelShape == Self.shape(of: config)
    }

    private static func shape(of c: ModelConfig) -> [Int] {
        [c.layerCount, c.hiddenSize, c.feedForwardSize, c.headCount, c.kvHeadCount, c.headDim, c.valueDim]
    }

    func projection(layer: Int, targetIndex: Int) -> Projection? {
        let i = layer * LoRATarget.allCases.count + targetIndex
        return i < projections.count ? projections[i] : nil
    }
}

/// The adapters a forward pass can use, indexed by LoRA slot (slot 0, the base model,
/// is always empty). It travels with the `ForwardBatch`, so which adapter a slot means is
/// part of the batch's value, not global state.
public struct LoRATable: Sendable {
    public private(set) var adapters: [LoRAAdapterWeights?]

    public init(_ adapters: [LoRAAdapterWeights?] = []) { self.adapters = adapters }

    public subscript(slot: Int32) -> LoRAAdapterWeights? {
        get { slot > 0 && Int(slot) < adapters.count ? adapters[Int(slot)] : nil }
        set {
            precondition(slot > 0, "slot 0 is the base model")
            while adapters.count <= Int(slot) { adapters.append(nil) }
            adapters[Int(slot)] = newValue
            while let last = adapters.last, last == nil { adapters.removeLast() }
        }
    }

    public var isEmpty: Bool { adapters.allSatisfy { $0 == nil } }
}

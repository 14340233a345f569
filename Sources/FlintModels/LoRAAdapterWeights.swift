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
/// the projection's output. B's rows are only `rank` long, and a Q8_0 row must be padded
/// to a multiple of 32; where that padded row is no smaller than an F16 row (rank ≤ 16)
/// B is stored as F16 instead, which is as small and rounds 16 times finer.
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
    }

    public let rank: Int
    public let scale: Float
    /// The format A and B are stored in (with Q8_0, A falls back to F16 where a
    /// projection's input size is not a multiple of 32, and B is F16 up to rank 16).
    public let format: DType
    public let layerCount: Int
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
        parameterCount = adapter.parameterCount
        let targets = LoRATarget.allCases

        struct Layout { let key: LoRAKey; let aType: DType; let bType: DType; let inner: Int; let aOffset: Int; let bOffset: Int }
        var layouts: [Layout] = []
        var bytes = 0
        func align(_ n: Int) -> Int { (n + 63) & ~63 }
        for key in adapter.keys {
            let w = adapter.weights[key]!
            let aType: DType = format == .q8_0 && w.inputSize % 32 != 0 ? .f16 : format
            let padded = (w.rank + 31) / 32 * 32
            let bType: DType = format == .q8_0 && DType.q8_0.rowBytes(padded) >= DType.f16.rowBytes(w.rank) ? .f16 : format
            let inner = bType == .q8_0 ? padded : w.rank
            let aOffset = bytes
            bytes = align(bytes + w.rank * aType.rowBytes(w.inputSize))
            let bOffset = bytes
            bytes = align(bytes + w.outputSize * bType.rowBytes(inner))
            layouts.append(Layout(key: key, aType: aType, bType: bType, inner: inner, aOffset: aOffset, bOffset: bOffset))
        }
        byteCount = bytes
        storage = .allocate(byteCount: max(64, bytes), alignment: 64)

        var table = [Projection?](repeating: nil, count: config.layerCount * targets.count)
        var row = [Float]()
        for l in layouts {
            let w = adapter.weights[l.key]!
            let aStride = l.aType.rowBytes(w.inputSize), bStride = l.bType.rowBytes(l.inner)
            let a = storage + l.aOffset, b = storage + l.bOffset
            w.a.withUnsafeBufferPointer { src in
                for r in 0..<w.rank {
                    flint_quantize_row(l.aType.rawValue, src.baseAddress! + r * w.inputSize, a + r * aStride, Int64(w.inputSize))
                }
            }
            // The scale goes into B, so the forward pass adds B·(A·x) as it comes.
            row = [Float](repeating: 0, count: l.inner)
            for o in 0..<w.outputSize {
                for j in 0..<w.rank { row[j] = scale * w.b[o * w.rank + j] }
                row.withUnsafeBufferPointer { flint_quantize_row(l.bType.rawValue, $0.baseAddress!, b + o * bStride, Int64(l.inner)) }
            }
            let index = l.key.layer * targets.count + targets.firstIndex(of: l.key.target)!
            table[index] = Projection(a: UnsafeRawPointer(a), aStride: aStride, aType: l.aType, b: UnsafeRawPointer(b),
                                      bStride: bStride, bType: l.bType, rank: w.rank, innerSize: l.inner)
        }
        projections = table
    }

    deinit { storage.deallocate() }

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

import CFlintKernels

/// A 2-D weight in its stored (usually quantized) format: `rows` rows of `columns`
/// elements, rows `rowStride` bytes apart. The bytes usually live in a GGUF memory
/// map; `owner` keeps whatever owns them alive.
public struct WeightMatrix: @unchecked Sendable {
    public let type: DType
    public let rows: Int
    public let columns: Int
    public let data: UnsafeRawPointer
    public let rowStride: Int
    public let owner: AnyObject?

    public init(type: DType, rows: Int, columns: Int, data: UnsafeRawPointer, owner: AnyObject?) {
        self.type = type
        self.rows = rows
        self.columns = columns
        self.data = data
        self.rowStride = type.rowBytes(columns)
        self.owner = owner
    }

    /// Dequantizes row `r` into `out` (used for embedding lookups).
    public func dequantizeRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        flint_dequantize_row(type.rawValue, data + r * rowStride, out, Int64(columns))
    }

    /// Bytes of activation scratch `matmul` needs for `m` input rows.
    public func activationBytes(rows m: Int) -> Int { m * type.vecDotType.rowBytes(columns) }
}

/// Activations quantized into a weight type's dot-product format, with a note of what
/// was quantized, so that several weights applied to the same input (Q/K/V, gate/up)
/// quantize it once.
public final class QuantizedActivations: @unchecked Sendable {
    let buffer = ScratchBuffer()
    private var key: (type: DType, source: UnsafePointer<Float>, rows: Int, columns: Int, stride: Int)?

    public init() {}

    /// The quantized rows of `x`; quantizes unless `reuse` is set and the buffer already
    /// holds these rows in this format (the caller promises `x` is unchanged since).
    func rows(of x: UnsafePointer<Float>, rows m: Int, columns k: Int, stride: Int, as type: DType,
              reuse: Bool, pool: ThreadPool) -> UnsafeMutableRawPointer {
        if reuse, let key, key.type == type, key.source == x, key.rows == m, key.columns == k, key.stride == stride {
            return buffer.raw
        }
        let rowBytes = type.rowBytes(k)
        let q = buffer.reserve(bytes: m * rowBytes)
        if m >= 4 {
            pool.parallelFor(m) { range in
                for i in range { flint_quantize_row(type.rawValue, x + i * stride, q + i * rowBytes, Int64(k)) }
            }
        } else {
            for i in 0..<m { flint_quantize_row(type.rawValue, x + i * stride, q + i * rowBytes, Int64(k)) }
        }
        key = (type, x, m, k, stride)
        return q
    }
}

extension Ops {
    /// out[i][r] = dot(W[r], x[i]) for the `m` rows of `x` (each `w.columns` floats,
    /// `xStride` floats apart). Activations are quantized once per row into the
    /// weight type's dot-product format (or reused from the previous matmul on the same
    /// input when `reuseInput` is set), then the weight rows are split across the
    /// pool's threads; every weight block is read once for all `m` rows.
    public static func matmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, rows m: Int, xStride: Int,
                              out: UnsafeMutablePointer<Float>, outStride: Int,
                              activations: QuantizedActivations, reuseInput: Bool = false, pool: ThreadPool) {
        let qType = w.type.vecDotType
        let qRowBytes = qType.rowBytes(w.columns)
        let k = w.columns
        let q = activations.rows(of: x, rows: m, columns: k, stride: xStride, as: qType, reuse: reuseInput, pool: pool)
        let rows = w.rows
        pool.run { index, total in
            // Chunks are multiples of 16 rows so SIMD tiles stay whole.
            let groups = (rows + 15) / 16
            let g = ThreadPool.chunk(groups, index, total)
            let r0 = g.lowerBound * 16, r1 = min(rows, g.upperBound * 16)
            if r0 < r1 {
                flint_gemm(w.type.rawValue, Int64(k), w.data, w.rowStride, Int64(r0), Int64(r1),
                           q, qRowBytes, Int64(m), out, Int64(outStride))
            }
        }
    }
}

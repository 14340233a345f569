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
        var job = QuantizeJob(type: type.rawValue, x: x, stride: stride, q: q, rowBytes: rowBytes, rows: m, columns: k)
        if m >= 4 {
            withUnsafeMutablePointer(to: &job) { pool.run(QuantizeJob.task, UnsafeMutableRawPointer($0)) }
        } else {
            QuantizeJob.task(&job, 0, 1)
        }
        key = (type, x, m, k, stride)
        return q
    }
}

/// Arguments of a parallel activation quantization (see `ThreadPool.run(_:_:)`).
private struct QuantizeJob {
    let type: Int32
    let x: UnsafePointer<Float>
    let stride: Int
    let q: UnsafeMutableRawPointer
    let rowBytes: Int
    let rows: Int
    let columns: Int

    static let task: PoolTask = { argument, index, total in
        let j = argument!.assumingMemoryBound(to: QuantizeJob.self).pointee
        for i in ThreadPool.chunk(j.rows, index, total) {
            flint_quantize_row(j.type, j.x + i * j.stride, j.q + i * j.rowBytes, Int64(j.columns))
        }
    }
}

/// Arguments of a parallel matrix product: weight rows are split across threads in
/// 16-row groups so SIMD tiles stay whole.
private struct GemmJob {
    let type: Int32
    let k: Int
    let w: UnsafeRawPointer
    let wStride: Int
    let rows: Int
    let q: UnsafeRawPointer
    let qStride: Int
    let m: Int
    let out: UnsafeMutablePointer<Float>
    let outStride: Int
    /// Per activation row, its flint_row_flags; nil: every row in the one-row arithmetic.
    let rowFlags: UnsafePointer<UInt8>?

    static let task: PoolTask = { argument, index, total in
        let j = argument!.assumingMemoryBound(to: GemmJob.self).pointee
        let groups = (j.rows + 15) / 16
        let g = ThreadPool.chunk(groups, index, total)
        let r0 = g.lowerBound * 16, r1 = min(j.rows, g.upperBound * 16)
        if r0 >= r1 { return }
        guard let flags = j.rowFlags else {
            flint_gemm(j.type, Int64(j.k), j.w, j.wStride, Int64(r0), Int64(r1), j.q, j.qStride, Int64(j.m), j.out, Int64(j.outStride))
            return
        }
        // Runs of activation rows that take the same arithmetic, one call each.
        var i = 0
        while i < j.m {
            let form = flint_gemm_form_for(j.type, UInt32(flags[i]))
            var e = i + 1
            while e < j.m && flint_gemm_form_for(j.type, UInt32(flags[e])) == form { e += 1 }
            flint_gemm_form(j.type, form, Int64(j.k), j.w, j.wStride, Int64(r0), Int64(r1), j.q + i * j.qStride, j.qStride,
                            Int64(e - i), j.out + i * j.outStride, Int64(j.outStride))
            i = e
        }
    }
}

extension Ops {
    /// out[i][r] = dot(W[r], x[i]) for the `m` rows of `x` (each `w.columns` floats,
    /// `xStride` floats apart). Activations are quantized once per row into the
    /// weight type's dot-product format (or reused from the previous matmul on the same
    /// input when `reuseInput` is set), then the weight rows are split across the
    /// pool's threads; every weight block is read once for all `m` rows. `plan` says
    /// which of llama.cpp's batch arithmetics each row takes (flint_gemm_form).
    public static func matmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, rows m: Int, xStride: Int,
                              out: UnsafeMutablePointer<Float>, outStride: Int,
                              activations: QuantizedActivations, reuseInput: Bool = false,
                              plan: GemmRowPlan? = nil, pool: ThreadPool) {
        let qType = w.type.vecDotType
        let qRowBytes = qType.rowBytes(w.columns)
        let k = w.columns
        let q = activations.rows(of: x, rows: m, columns: k, stride: xStride, as: qType, reuse: reuseInput, pool: pool)
        let batchPlan = plan.flatMap { $0.hasBatchRows ? $0 : nil }
        withExtendedLifetime(batchPlan) {
            var job = GemmJob(type: w.type.rawValue, k: k, w: w.data, wStride: w.rowStride, rows: w.rows, q: q, qStride: qRowBytes,
                              m: m, out: out, outStride: outStride, rowFlags: batchPlan.map { UnsafePointer($0.flags) })
            withUnsafeMutablePointer(to: &job) { pool.run(GemmJob.task, UnsafeMutableRawPointer($0)) }
        }
    }
}

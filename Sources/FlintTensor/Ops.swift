import CFlintKernels
import Foundation

/// Namespace of the tensor operations a forward pass is made of. Every op works on
/// raw row-major float rows and writes into caller-provided memory.
public enum Ops {}

extension Ops {
    /// RMS normalisation of `rows` rows of `dim` floats, in place or into `out`,
    /// multiplied by `weight`, with GGML's arithmetic (flint_rms_norm). With a `pool`, a
    /// batch's rows are split across its threads; each row is computed the same way whatever
    /// the split.
    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, rows: Int, dim: Int,
                               stride: Int, eps: Float, out: UnsafeMutablePointer<Float>, outStride: Int,
                               pool: ThreadPool? = nil) {
        var job = RMSNormJob(x: x, residual: nil, residualWeight: nil, weight: weight, rows: rows, dim: dim, stride: stride, eps: eps,
                             out: out, outStride: outStride)
        run(&job, pool: pool)
    }

    /// x += residual (both `rows` rows `stride` apart), then the RMS normalisation of x as
    /// `rmsNorm`: the residual connection fused into the norm that follows it, so that it
    /// runs on every thread instead of between two pool jobs. `out` may be `residual`.
    public static func rmsNorm(_ x: UnsafeMutablePointer<Float>, adding residual: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               rows: Int, dim: Int, stride: Int, eps: Float, out: UnsafeMutablePointer<Float>, outStride: Int,
                               pool: ThreadPool? = nil) {
        var job = RMSNormJob(x: x, residual: residual, residualWeight: nil, weight: weight, rows: rows, dim: dim, stride: stride,
                             eps: eps, out: out, outStride: outStride)
        run(&job, pool: pool)
    }

    /// The same with the residual branch's own norm first (Gemma's post-norms): residual =
    /// rmsNorm(residual) · residualWeight in place, x += residual, out = rmsNorm(x) · weight,
    /// row by row in one pool job instead of two jobs and a serial add. `out` may be `residual`.
    public static func rmsNorm(_ x: UnsafeMutablePointer<Float>, adding residual: UnsafeMutablePointer<Float>,
                               normalizedBy residualWeight: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               rows: Int, dim: Int, stride: Int, eps: Float, out: UnsafeMutablePointer<Float>, outStride: Int,
                               pool: ThreadPool? = nil) {
        var job = RMSNormJob(x: x, residual: residual, residualWeight: residualWeight, weight: weight, rows: rows, dim: dim,
                             stride: stride, eps: eps, out: out, outStride: outStride)
        run(&job, pool: pool)
    }

    private static func run(_ job: inout RMSNormJob, pool: ThreadPool?) {
        if let pool, job.rows >= 16 {
            withUnsafeMutablePointer(to: &job) { pool.run(RMSNormJob.task, UnsafeMutableRawPointer($0)) }
        } else {
            RMSNormJob.task(&job, 0, 1)
        }
    }

    /// out = silu(gate) * up over `rows` rows of `rowLength` floats, with llama.cpp's exp
    /// (ggml_v_expf, see flint_swiglu): the MLP's 8-bit activation quantization turns a
    /// one-ulp difference here into a different rounding step now and then.
    public static func swiglu(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
                              rows: Int, rowLength: Int) {
        flint_swiglu(gate, up, out, Int64(rows), Int64(rowLength))
    }

    /// out = gelu_tanh(gate) * up, elementwise over `n` floats. GELU is evaluated at
    /// F16 precision through a 64K-entry table (GGML's GELU_FP16 scheme: the input is
    /// rounded to F16 and the result stored as F16), so Gemma's MLP agrees with
    /// llama.cpp bit for bit; outside ±10 GELU is 0 or the identity.
    public static func geglu(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, count n: Int) {
        GeluTable.shared.values.withUnsafeBufferPointer { flint_geglu(gate, up, out, Int64(n), $0.baseAddress!) }
    }

    /// The gated activation of an MLP, `swiglu` or `geglu`, with the rows split across
    /// the pool's threads. Each element is computed the same way whatever the split, so
    /// results do not depend on the batch. Inputs smaller than one dispatch is worth (a
    /// decode row or a few) stay on the calling thread.
    public static func gatedActivation(_ kind: GatedActivation, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                                       out: UnsafeMutablePointer<Float>, rows: Int, rowLength: Int, pool: ThreadPool) {
        var job = GatedActivationJob(kind: kind, gate: gate, up: up, out: out, rows: rows, rowLength: rowLength)
        if rows > 1 && rows * rowLength >= 16_384 {
            withUnsafeMutablePointer(to: &job) { pool.run(GatedActivationJob.task, UnsafeMutableRawPointer($0)) }
        } else {
            GatedActivationJob.task(&job, 0, 1)
        }
    }

    /// gelu_tanh in F32.
    public static func gelu(_ x: Float) -> Float {
        let c: Float = 0.797_884_56  // sqrt(2/pi)
        return 0.5 * x * (1 + tanhf(c * x * (1 + 0.044_715 * x * x)))
    }

    /// x += y over `n` floats.
    public static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count n: Int) {
        for i in 0..<n { x[i] += y[i] }
    }

    /// x *= s over `n` floats.
    public static func scale(_ x: UnsafeMutablePointer<Float>, by s: Float, count n: Int) {
        for i in 0..<n { x[i] *= s }
    }
}

/// GELU of every F16 value, stored as F16.
final class GeluTable: Sendable {
    static let shared = GeluTable()
    let values: [UInt16]
    private init() {
        values = (0...UInt16.max).map { flint_fp32_to_fp16(Ops.gelu(flint_fp16_to_fp32($0))) }
    }
}

/// The gated activations `Ops.gatedActivation` computes.
public enum GatedActivation: Sendable {
    /// silu(gate) * up (Llama, Qwen2).
    case swiglu
    /// gelu_tanh(gate) * up (Gemma 3).
    case geglu
}

/// Arguments of a parallel RMS normalisation (see `ThreadPool.run(_:_:)`).
private struct RMSNormJob {
    let x: UnsafePointer<Float>
    /// Added to x (written back) before the norm, row by row; nil: x as it is.
    let residual: UnsafePointer<Float>?
    /// When set, the residual rows are first normalized in place with this weight.
    let residualWeight: UnsafePointer<Float>?
    let weight: UnsafePointer<Float>
    let rows: Int
    let dim: Int
    let stride: Int
    let eps: Float
    let out: UnsafeMutablePointer<Float>
    let outStride: Int

    static let task: PoolTask = { argument, index, total in
        let j = argument!.assumingMemoryBound(to: RMSNormJob.self).pointee
        let range = ThreadPool.chunk(j.rows, index, total)
        if range.isEmpty { return }
        if let residual = j.residual {
            if let rw = j.residualWeight {
                let rows = UnsafeMutablePointer(mutating: residual) + range.lowerBound * j.stride
                flint_rms_norm(rows, rw, Int64(range.count), Int64(j.dim), Int64(j.stride), j.eps, rows, Int64(j.stride))
            }
            let x = UnsafeMutablePointer(mutating: j.x)
            for r in range { Ops.add(x + r * j.stride, residual + r * j.stride, count: j.dim) }
        }
        flint_rms_norm(j.x + range.lowerBound * j.stride, j.weight, Int64(range.count), Int64(j.dim), Int64(j.stride), j.eps,
                       j.out + range.lowerBound * j.outStride, Int64(j.outStride))
    }
}

/// Arguments of a parallel gated activation (see `ThreadPool.run(_:_:)`).
private struct GatedActivationJob {
    let kind: GatedActivation
    let gate: UnsafePointer<Float>
    let up: UnsafePointer<Float>
    let out: UnsafeMutablePointer<Float>
    let rows: Int
    let rowLength: Int

    /// Splits whole rows: llama.cpp's SiLU treats a row's tail differently (flint_swiglu).
    static let task: PoolTask = { argument, index, total in
        let j = argument!.assumingMemoryBound(to: GatedActivationJob.self).pointee
        let range = ThreadPool.chunk(j.rows, index, total)
        if range.isEmpty { return }
        let offset = range.lowerBound * j.rowLength
        let (g, u, o) = (j.gate + offset, j.up + offset, j.out + offset)
        switch j.kind {
        case .swiglu: Ops.swiglu(gate: g, up: u, out: o, rows: range.count, rowLength: j.rowLength)
        case .geglu: Ops.geglu(gate: g, up: u, out: o, count: range.count * j.rowLength)
        }
    }
}

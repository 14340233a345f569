import CFlintKernels
import Foundation

/// Rotary position embedding. `neox` rotates the two halves of each head
/// (GPT-NeoX/Qwen/Gemma layout); otherwise adjacent pairs are rotated (Llama
/// layout, as GGUF stores Llama's permuted Q/K). Angles are built as GGML builds
/// them: theta = pos * base^(-2i/d), accumulated by repeated multiplication.
///
/// The cos/sin of a position are computed once per forward pass (`fillTable`) and
/// shared by every head of every layer.
public struct Rotary: Sendable {
    public let dimensions: Int
    public let base: Float
    public let neox: Bool
    public let positionScale: Float

    public init(dimensions: Int, base: Float, neox: Bool, positionScale: Float = 1) {
        self.dimensions = dimensions
        self.base = base
        self.neox = neox
        self.positionScale = positionScale
    }

    /// Floats of table space per position: a cos and a sin per rotated pair.
    public var tableStride: Int { dimensions }

    /// Writes [cos0, sin0, cos1, sin1, …] for each position into `table`.
    public func fillTable(_ table: UnsafeMutablePointer<Float>, positions: [Int32]) {
        let thetaScale = powf(base, -2.0 / Float(dimensions))
        for (r, p) in positions.enumerated() {
            let t = table + r * tableStride
            var theta = Float(p) * positionScale
            for i in 0..<(dimensions / 2) {
                t[2 * i] = cosf(theta)
                t[2 * i + 1] = sinf(theta)
                theta *= thetaScale
            }
        }
    }

    /// Rotates `heads` heads of `headDim` floats (stored contiguously from `x`) using
    /// one position's row of a table from `fillTable` (flint_rope: fused the way C compilers
    /// contract `x0*c - x1*s`, first product fused, so values agree bit for bit with llama.cpp's).
    public func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, table: UnsafePointer<Float>) {
        flint_rope(x, Int64(heads), Int64(headDim), Int64(dimensions), neox ? 1 : 0, table)
    }

    /// Rotates the query and key heads of `rows` rows (row r at q + r * qStride and
    /// k + r * kStride, its table row at table + r * tableStride), rows split across the
    /// pool's threads for a batch.
    public func apply(q: UnsafeMutablePointer<Float>, qHeads: Int, k: UnsafeMutablePointer<Float>, kHeads: Int,
                      headDim: Int, rows: Int, table: UnsafePointer<Float>, pool: ThreadPool) {
        var job = RotaryJob(rotary: self, q: q, qHeads: qHeads, k: k, kHeads: kHeads, headDim: headDim, rows: rows, table: table)
        if rows >= 16 {
            withUnsafeMutablePointer(to: &job) { pool.run(RotaryJob.task, UnsafeMutableRawPointer($0)) }
        } else {
            RotaryJob.task(&job, 0, 1)
        }
    }
}

/// Arguments of a parallel rotary embedding (see `ThreadPool.run(_:_:)`).
private struct RotaryJob {
    let rotary: Rotary
    let q: UnsafeMutablePointer<Float>
    let qHeads: Int
    let k: UnsafeMutablePointer<Float>
    let kHeads: Int
    let headDim: Int
    let rows: Int
    let table: UnsafePointer<Float>

    static let task: PoolTask = { argument, index, total in
        let j = argument!.assumingMemoryBound(to: RotaryJob.self).pointee
        for r in ThreadPool.chunk(j.rows, index, total) {
            let t = j.table + r * j.rotary.tableStride
            j.rotary.apply(j.q + r * j.qHeads * j.headDim, heads: j.qHeads, headDim: j.headDim, table: t)
            j.rotary.apply(j.k + r * j.kHeads * j.headDim, heads: j.kHeads, headDim: j.headDim, table: t)
        }
    }
}

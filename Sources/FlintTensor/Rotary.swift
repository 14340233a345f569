import CFlintKernels
import Foundation

/// How a model stretches its rotary embedding past the context it was trained at, as the
/// GGUF's `rope.scaling.*` keys say and as llama.cpp applies them (ggml's `rope_yarn`):
/// every angle is scaled by `frequencyScale` (linear scaling), and with YaRN
/// (`extrapolationFactor` 1) the high-frequency pairs keep their unscaled angle, the pairs
/// between YaRN's correction dimensions mix the two, and cos and sin are multiplied by
/// `attentionFactor` × (1 + 0.1 ln(1 / frequencyScale)).
public struct RotaryScaling: Sendable, Equatable {
    /// Multiplies every angle: 1 / rope.scaling.factor (llama.cpp's freq_scale; 1 = none).
    public var frequencyScale: Float
    /// YaRN's mix of unscaled angles (llama.cpp's ext_factor): 1 with YaRN, else 0.
    public var extrapolationFactor: Float
    /// Multiplies cos and sin (llama.cpp's attn_factor, after its YaRN adjustment).
    public var attentionFactor: Float
    /// The context the model was trained at before scaling (YaRN's correction dimensions).
    public var originalContextLength: Int
    /// YaRN's rotation counts that bound the mixed pairs (llama.cpp's defaults 32 and 1).
    public var betaFast: Float
    public var betaSlow: Float

    public init(frequencyScale: Float = 1, extrapolationFactor: Float = 0, attentionFactor: Float = 1,
                originalContextLength: Int = 0, betaFast: Float = 32, betaSlow: Float = 1) {
        self.frequencyScale = frequencyScale
        self.extrapolationFactor = extrapolationFactor
        self.attentionFactor = attentionFactor
        self.originalContextLength = originalContextLength
        self.betaFast = betaFast
        self.betaSlow = betaSlow
    }

    public static let none = RotaryScaling()

    /// The same scaling without its frequency scale (Gemma 3's sliding-window layers: llama.cpp
    /// scales only global layers' angles, but applies the rest everywhere).
    public var unscaled: RotaryScaling {
        var s = self
        s.frequencyScale = 1
        return s
    }
}

/// Rotary position embedding. `neox` rotates the two halves of each head
/// (GPT-NeoX/Qwen/Gemma layout); otherwise adjacent pairs are rotated (Llama
/// layout, as GGUF stores Llama's permuted Q/K). Angles are built as GGML builds
/// them: theta = pos * base^(-2i/d), accumulated by repeated multiplication, then scaled
/// (`RotaryScaling`).
///
/// The cos/sin of a position are computed once per forward pass (`fillTable`) and
/// shared by every head of every layer.
public struct Rotary: Sendable {
    public let dimensions: Int
    public let base: Float
    public let neox: Bool
    public let scaling: RotaryScaling

    public init(dimensions: Int, base: Float, neox: Bool, scaling: RotaryScaling = .none) {
        self.dimensions = dimensions
        self.base = base
        self.neox = neox
        self.scaling = scaling
    }

    /// Floats of table space per position: a cos and a sin per rotated pair.
    public var tableStride: Int { dimensions }

    /// YaRN's correction dimensions (ggml_rope_yarn_corr_dims): the pair index where a
    /// rotation count of `betaFast`, and of `betaSlow`, fits the original context.
    var correctionDimensions: (low: Float, high: Float) {
        let n = Float(dimensions), context = Float(scaling.originalContextLength)
        func dimension(_ rotations: Float) -> Float { n * logf(context / (rotations * 2 * Float.pi)) / (2 * logf(base)) }
        return (max(0, floorf(dimension(scaling.betaFast))), min(n - 1, ceilf(dimension(scaling.betaSlow))))
    }

    /// Writes [cos0, sin0, cos1, sin1, …] for each position into `table`.
    public func fillTable(_ table: UnsafeMutablePointer<Float>, positions: [Int32]) {
        let thetaScale = powf(base, -2.0 / Float(dimensions))
        let s = scaling
        let yarn = s.extrapolationFactor != 0
        let corrections = yarn ? correctionDimensions : (low: 0, high: 0)
        // Products and sums as ggml's C compiles them: the first product of a sum fused into
        // an FMA (a model under YaRN can move its logits by tenths for one ulp of cos or sin).
        let magnitude = yarn ? s.attentionFactor * Float(1).addingProduct(0.1, logf(1 / s.frequencyScale)) : s.attentionFactor
        for (r, p) in positions.enumerated() {
            let t = table + r * tableStride
            var extrapolated = Float(p)
            for i in 0..<(dimensions / 2) {
                var theta = s.frequencyScale * extrapolated
                if yarn {  // ggml's rope_yarn_ramp: 1 below the low correction dimension, 0 above the high one
                    let y = (Float(i) - corrections.low) / max(0.001, corrections.high - corrections.low)
                    let mix = (1 - min(1, max(0, y))) * s.extrapolationFactor
                    theta = (extrapolated * mix).addingProduct(theta, 1 - mix)
                }
                t[2 * i] = cosf(theta) * magnitude
                t[2 * i + 1] = sinf(theta) * magnitude
                extrapolated *= thetaScale
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

import FlintLoading
import FlintTensor

/// Final norm and vocabulary projection, applied only to the rows whose logits are
/// wanted. Uses `output.weight` when present, else the tied token embedding.
struct OutputHead {
    let norm: [Float]
    let projection: Linear
    let epsilon: Float

    init(loader w: WeightLoader, config c: ModelConfig, tiedEmbedding: WeightMatrix) throws {
        norm = try w.vector("output_norm.weight", count: c.hiddenSize)
        projection = Linear(weight: w.has("output.weight")
                            ? try w.matrix("output.weight", rows: c.vocabularySize, columns: c.hiddenSize) : tiedEmbedding)
        epsilon = c.rmsNormEpsilon
    }

    func callAsFunction(_ x: UnsafePointer<Float>, batch: ForwardBatch, context ctx: ForwardContext) -> UnsafeBufferPointer<Float> {
        let d = projection.inputSize, vocab = projection.outputSize, m = batch.logitRows.count
        let rows = ctx.buffer(.headRows).floats(max(1, m) * d)
        norm.withUnsafeBufferPointer { w in
            let logitRows = batch.logitRows
            if let first = logitRows.first, logitRows.last! - first == m - 1 {  // consecutive (a decode batch): one pool job
                Ops.rmsNorm(x + Int(first) * d, weight: w.baseAddress!, rows: m, dim: d, stride: d, eps: epsilon,
                            out: rows, outStride: d, pool: ctx.pool)
            } else {
                for (i, r) in logitRows.enumerated() {
                    Ops.rmsNorm(x + Int(r) * d, weight: w.baseAddress!, rows: 1, dim: d, stride: d, eps: epsilon,
                                out: rows + i * d, outStride: d)
                }
            }
        }
        let out = ctx.buffer(.logits).floats(max(1, m) * vocab)
        if m > 0 { projection(rows, rows: m, out: out, context: ctx, tokenRows: false) }
        return UnsafeBufferPointer(start: out, count: m * vocab)
    }
}

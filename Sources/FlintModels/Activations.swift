import FlintLoading
import FlintTensor

/// The activation buffers of one forward pass of a decoder, taken from the context's
/// reusable scratch memory: the residual stream, a normed copy, Q/K/V, the attention
/// output and the two MLP branches.
struct Activations {
    let x, h, q, k, v, attention, gate, up: UnsafeMutablePointer<Float>

    init(rows n: Int, config c: ModelConfig, context ctx: ForwardContext) {
        let d = c.hiddenSize, qDim = c.headCount * c.headDim, kvDim = c.kvHeadCount * c.headDim
        x = ctx.buffer(.residual).floats(n * d)
        h = ctx.buffer(.normed).floats(n * d)
        q = ctx.buffer(.q).floats(n * qDim)
        k = ctx.buffer(.k).floats(n * kvDim)
        v = ctx.buffer(.v).floats(n * kvDim)
        attention = ctx.buffer(.attention).floats(n * qDim)
        gate = ctx.buffer(.gate).floats(n * c.feedForwardSize)
        up = ctx.buffer(.up).floats(n * c.feedForwardSize)
    }
}

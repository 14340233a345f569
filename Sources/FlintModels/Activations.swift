import FlintLoading
import FlintTensor

/// The activation buffers of one forward pass of a decoder, taken from the context's
/// reusable scratch memory: the residual stream, a normed copy, Q/K/V, the attention
/// output and the two MLP branches.
struct Activations {
    let x, h, q, k, v, attention, gate, up: UnsafeMutablePointer<Float>

    init(rows n: Int, config c: ModelConfig, context ctx: ForwardContext) {
        let d = c.hiddenSize, qDim = c.headCount * c.headDim, kvDim = c.kvHeadCount * c.headDim
        x = ctx.buffer(0).floats(n * d)
        h = ctx.buffer(1).floats(n * d)
        q = ctx.buffer(2).floats(n * qDim)
        k = ctx.buffer(3).floats(n * kvDim)
        v = ctx.buffer(4).floats(n * kvDim)
        attention = ctx.buffer(5).floats(n * qDim)
        gate = ctx.buffer(6).floats(n * c.feedForwardSize)
        up = ctx.buffer(7).floats(n * c.feedForwardSize)
    }
}

import FlintLoading
import FlintTensor

/// Gemma 3: embeddings scaled by sqrt(d), RMS-normed queries and keys per head,
/// extra norms after attention and after the MLP, a GELU-tanh gated MLP, and
/// sliding-window local layers interleaved with global ones, each with its own
/// RoPE base. (GGUF norm weights already include Gemma's +1.)
public final class Gemma3: CausalLM, @unchecked Sendable {
    public let config: ModelConfig
    public let layerAttention: [AttentionKind]

    struct Block {
        let attnNorm, qNorm, kNorm, postAttnNorm: [Float]
        let q, k, v, o: LoRALinear
        let ffnNorm, postFfnNorm: [Float]
        let gate, up, down: LoRALinear
    }

    let embedding: Embedding
    let blocks: [Block]
    let head: OutputHead
    let rotaryLocal: Rotary
    let rotaryGlobal: Rotary
    let attention: [PagedAttention]

    init(gguf: GGUFFile, config c: ModelConfig, overrides: [String: [Float]] = [:]) throws {
        config = c
        let w = WeightLoader(gguf: gguf, overrides: overrides)
        let d = c.hiddenSize, qDim = c.headCount * c.headDim, kvDim = c.kvHeadCount * c.headDim
        let embd = try w.matrix("token_embd.weight", rows: c.vocabularySize, columns: d)
        embedding = Embedding(table: embd)
        blocks = try (0..<c.layerCount).map { i in
            let p = "blk.\(i)."
            return Block(
                attnNorm: try w.vector(p + "attn_norm.weight", count: d),
                qNorm: try w.vector(p + "attn_q_norm.weight", count: c.headDim),
                kNorm: try w.vector(p + "attn_k_norm.weight", count: c.headDim),
                postAttnNorm: try w.vector(p + "post_attention_norm.weight", count: d),
                q: try w.linear(p + "attn_q", layer: i, target: .q, rows: qDim, columns: d),
                k: try w.linear(p + "attn_k", layer: i, target: .k, rows: kvDim, columns: d),
                v: try w.linear(p + "attn_v", layer: i, target: .v, rows: kvDim, columns: d),
                o: try w.linear(p + "attn_output", layer: i, target: .o, rows: d, columns: qDim),
                ffnNorm: try w.vector(p + "ffn_norm.weight", count: d),
                postFfnNorm: try w.vector(p + "post_ffw_norm.weight", count: d),
                gate: try w.linear(p + "ffn_gate", layer: i, target: .gate, rows: c.feedForwardSize, columns: d),
                up: try w.linear(p + "ffn_up", layer: i, target: .up, rows: c.feedForwardSize, columns: d),
                down: try w.linear(p + "ffn_down", layer: i, target: .down, rows: d, columns: c.feedForwardSize))
        }
        head = try OutputHead(loader: w, config: c, tiedEmbedding: embd)
        rotaryLocal = Rotary(dimensions: c.ropeDimensions, base: c.ropeBaseLocal, neox: true, scaling: c.ropeScaling.unscaled)
        rotaryGlobal = Rotary(dimensions: c.ropeDimensions, base: c.ropeBase, neox: true, scaling: c.ropeScaling)
        layerAttention = (0..<c.layerCount).map { c.isSlidingWindowLayer($0) ? .slidingWindow(c.slidingWindow) : .full }
        attention = layerAttention.map {
            PagedAttention(heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim,
                           scale: 1 / Float(c.headDim).squareRoot(), kind: $0)
        }
    }

    public func forward(_ batch: ForwardBatch, cache: KVCache, context ctx: ForwardContext) -> UnsafeBufferPointer<Float> {
        ctx.plan(batch)
        let c = config, n = batch.tokenCount, eps = c.rmsNormEpsilon, hd = c.headDim
        let d = c.hiddenSize, f = c.feedForwardSize
        let a = Activations(rows: n, config: c, context: ctx)
        let lora = LoRAPlan(batch: batch, context: ctx)
        let (x, h, q, k, v, att, gate, up) = (a.x, a.h, a.q, a.k, a.v, a.attention, a.gate, a.up)

        let localTable = ctx.buffer(.ropeTable).floats(n * rotaryLocal.tableStride)
        let globalTable = ctx.buffer(.ropeTableGlobal).floats(n * rotaryGlobal.tableStride)
        rotaryLocal.fillTable(localTable, positions: batch.positions)
        rotaryGlobal.fillTable(globalTable, positions: batch.positions)
        embedding(batch.tokens, out: x, scale: Float(d).squareRoot())
        // Each residual branch's post-norm and add (x += norm(h)) run inside the pre-norm that
        // follows them; the last block's before the output head.
        for (li, b) in blocks.enumerated() {
            let global = layerAttention[li] == .full
            let rotary = global ? rotaryGlobal : rotaryLocal
            let table = global ? globalTable : localTable
            if li == 0 {
                norm(x, b.attnNorm, rows: n, dim: d, eps: eps, out: h, pool: ctx.pool)
            } else {
                residualNorm(x, adding: h, postNorm: blocks[li - 1].postFfnNorm, b.attnNorm, rows: n, dim: d, eps: eps, pool: ctx.pool)
            }
            b.q(h, rows: n, out: q, context: ctx, lora: lora)
            b.k(h, rows: n, out: k, context: ctx, lora: lora, sameInput: true)
            b.v(h, rows: n, out: v, context: ctx, lora: lora, sameInput: true)
            norm(q, b.qNorm, rows: n * c.headCount, dim: hd, eps: eps, out: q, pool: ctx.pool)
            norm(k, b.kNorm, rows: n * c.kvHeadCount, dim: hd, eps: eps, out: k, pool: ctx.pool)
            rotary.apply(q: q, qHeads: c.headCount, k: k, kHeads: c.kvHeadCount, headDim: hd, rows: n, table: table, pool: ctx.pool)
            attention[li](q: q, k: k, v: v, layer: li, batch: batch, cache: cache, context: ctx, out: att)
            b.o(att, rows: n, out: h, context: ctx, lora: lora)
            residualNorm(x, adding: h, postNorm: b.postAttnNorm, b.ffnNorm, rows: n, dim: d, eps: eps, pool: ctx.pool)
            b.gate(h, rows: n, out: gate, context: ctx, lora: lora)
            b.up(h, rows: n, out: up, context: ctx, lora: lora, sameInput: true)
            Ops.gatedActivation(.geglu, gate: gate, up: up, out: gate, rows: n, rowLength: f, pool: ctx.pool)
            b.down(gate, rows: n, out: h, context: ctx, lora: lora)
        }
        if let last = blocks.last {
            norm(h, last.postFfnNorm, rows: n, dim: d, eps: eps, out: h, pool: ctx.pool)
            Ops.add(x, h, count: n * d)
        }
        return head(x, batch: batch, context: ctx)
    }

    private func norm(_ x: UnsafeMutablePointer<Float>, _ w: [Float], rows: Int, dim: Int, eps: Float, out: UnsafeMutablePointer<Float>,
                      pool: ThreadPool) {
        w.withUnsafeBufferPointer { Ops.rmsNorm(x, weight: $0.baseAddress!, rows: rows, dim: dim, stride: dim, eps: eps, out: out, outStride: dim, pool: pool) }
    }

    /// h = norm(h) · postNorm, x += h, h = norm(x) · w: one pool job.
    private func residualNorm(_ x: UnsafeMutablePointer<Float>, adding h: UnsafeMutablePointer<Float>, postNorm: [Float], _ w: [Float],
                              rows: Int, dim: Int, eps: Float, pool: ThreadPool) {
        postNorm.withUnsafeBufferPointer { p in
            w.withUnsafeBufferPointer {
                Ops.rmsNorm(x, adding: h, normalizedBy: p.baseAddress!, weight: $0.baseAddress!, rows: rows, dim: dim, stride: dim, eps: eps,
                            out: h, outStride: dim, pool: pool)
            }
        }
    }
}

import FlintLoading
import FlintTensor

/// The Llama family: Llama/Mistral/SmolLM (adjacent-pair RoPE) and Qwen2 (QKV bias,
/// NeoX RoPE). Pre-norm blocks of grouped-query attention and a SwiGLU MLP.
public final class Llama: CausalLM, @unchecked Sendable {
    public let config: ModelConfig
    public let layerAttention: [AttentionKind]

    struct Block {
        let attnNorm: [Float]
        let q, k, v, o: LoRALinear
        let ffnNorm: [Float]
        let gate, up, down: LoRALinear
    }

    let embedding: Embedding
    let blocks: [Block]
    let head: OutputHead
    let rotary: Rotary
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
                q: try w.linear(p + "attn_q", layer: i, target: .q, rows: qDim, columns: d),
                k: try w.linear(p + "attn_k", layer: i, target: .k, rows: kvDim, columns: d),
                v: try w.linear(p + "attn_v", layer: i, target: .v, rows: kvDim, columns: d),
                o: try w.linear(p + "attn_output", layer: i, target: .o, rows: d, columns: qDim),
                ffnNorm: try w.vector(p + "ffn_norm.weight", count: d),
                gate: try w.linear(p + "ffn_gate", layer: i, target: .gate, rows: c.feedForwardSize, columns: d),
                up: try w.linear(p + "ffn_up", layer: i, target: .up, rows: c.feedForwardSize, columns: d),
                down: try w.linear(p + "ffn_down", layer: i, target: .down, rows: d, columns: c.feedForwardSize))
        }
        head = try OutputHead(loader: w, config: c, tiedEmbedding: embd)
        // GGUF stores Llama's Q/K permuted for adjacent-pair rotation; Qwen2 keeps NeoX halves.
        let neox = c.architecture == "qwen2"
        rotary = Rotary(dimensions: c.ropeDimensions, base: c.ropeBase, neox: neox, scaling: c.ropeScaling)
        layerAttention = (0..<c.layerCount).map { c.isSlidingWindowLayer($0) ? .slidingWindow(c.slidingWindow) : .full }
        attention = layerAttention.map {
            PagedAttention(heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim,
                           scale: 1 / Float(c.headDim).squareRoot(), kind: $0)
        }
    }

    public func forward(_ batch: ForwardBatch, cache: KVCache, context ctx: ForwardContext) -> UnsafeBufferPointer<Float> {
        ctx.plan(batch)
        let c = config, n = batch.tokenCount
        let d = c.hiddenSize, f = c.feedForwardSize
        let a = Activations(rows: n, config: c, context: ctx)
        let lora = LoRAPlan(batch: batch, context: ctx)
        let (x, h, q, k, v, att, gate, up) = (a.x, a.h, a.q, a.k, a.v, a.attention, a.gate, a.up)

        let ropeTable = ctx.buffer(.ropeTable).floats(n * rotary.tableStride)
        rotary.fillTable(ropeTable, positions: batch.positions)
        embedding(batch.tokens, out: x)
        // Each residual add (x += h) runs inside the norm that follows it; the last block's
        // before the output head.
        for (li, b) in blocks.enumerated() {
            b.attnNorm.withUnsafeBufferPointer {
                if li == 0 {
                    Ops.rmsNorm(x, weight: $0.baseAddress!, rows: n, dim: d, stride: d, eps: c.rmsNormEpsilon, out: h, outStride: d, pool: ctx.pool)
                } else {
                    Ops.rmsNorm(x, adding: h, weight: $0.baseAddress!, rows: n, dim: d, stride: d, eps: c.rmsNormEpsilon, out: h, outStride: d,
                                pool: ctx.pool)
                }
            }
            b.q(h, rows: n, out: q, context: ctx, lora: lora)
            b.k(h, rows: n, out: k, context: ctx, lora: lora, sameInput: true)
            b.v(h, rows: n, out: v, context: ctx, lora: lora, sameInput: true)
            rotary.apply(q: q, qHeads: c.headCount, k: k, kHeads: c.kvHeadCount, headDim: c.headDim, rows: n,
                         table: ropeTable, pool: ctx.pool)
            attention[li](q: q, k: k, v: v, layer: li, batch: batch, cache: cache, context: ctx, out: att)
            b.o(att, rows: n, out: h, context: ctx, lora: lora)

            b.ffnNorm.withUnsafeBufferPointer {
                Ops.rmsNorm(x, adding: h, weight: $0.baseAddress!, rows: n, dim: d, stride: d, eps: c.rmsNormEpsilon, out: h, outStride: d,
                            pool: ctx.pool)
            }
            b.gate(h, rows: n, out: gate, context: ctx, lora: lora)
            b.up(h, rows: n, out: up, context: ctx, lora: lora, sameInput: true)
            Ops.gatedActivation(.swiglu, gate: gate, up: up, out: gate, rows: n, rowLength: f, pool: ctx.pool)
            b.down(gate, rows: n, out: h, context: ctx, lora: lora)
        }
        Ops.add(x, h, count: n * d)
        return head(x, batch: batch, context: ctx)
    }
}

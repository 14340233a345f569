import CFlintKernels
import FlintTensor

/// Scaled dot-product attention over the paged KV cache for every sequence of a
/// batch: writes the batch's new keys/values into their slots, then lets each query
/// row attend causally to its own sequence's cached positions.
struct PagedAttention {
    let heads: Int
    let kvHeads: Int
    let headDim: Int
    let scale: Float
    let kind: AttentionKind

    /// - q: [rows × heads*headDim], k: [rows × kvHeads*headDim], v: [rows × kvHeads*headDim]
    /// - out: [rows × heads*headDim]
    func callAsFunction(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                        layer: Int, batch: ForwardBatch, cache: KVCache, context: ForwardContext,
                        out: UnsafeMutablePointer<Float>) {
        let kvDim = kvHeads * headDim
        let rows = batch.tokenCount
        let kc = cache.keys[layer], vc = cache.values[layer]
        batch.slots.withUnsafeBufferPointer { slots in
            for r in 0..<rows {
                let s = Int(slots[r])
                flint_store_f16(kc + s * kvDim, k + r * kvDim, Int64(kvDim))
                flint_store_f16(vc + s * kvDim, v + r * kvDim, Int64(kvDim))
            }
        }
        let window: Int32
        if case .slidingWindow(let w) = kind { window = Int32(w) } else { window = 0 }
        let maxPosition = Int(batch.positions.max() ?? 0)
        let qStride = heads * headDim
        let items = rows * heads
        let heads = self.heads, kvHeads = self.kvHeads, headDim = self.headDim, scale = self.scale
        let blockSize = Int32(cache.blockSize)
        batch.positions.withUnsafeBufferPointer { positions in
            batch.rowSequence.withUnsafeBufferPointer { rowSeq in
                context.pool.run { index, total in
                    let scratch = context.attentionScratch[index].floats(maxPosition + 1)
                    // Interleaved, not contiguous: causal rows get heavier towards the end
                    // of a prompt, and striding keeps the threads evenly loaded.
                    for item in stride(from: index, to: items, by: total) {
                        let r = item / heads, h = item % heads
                        let seq = batch.sequences[Int(rowSeq[r])]
                        seq.blockTable.withUnsafeBufferPointer { table in
                            flint_attention_paged(q, Int64(qStride), positions.baseAddress!, Int64(r), Int64(r + 1),
                                                  kc, vc, table.baseAddress!, blockSize,
                                                  Int32(heads), Int32(kvHeads), Int32(headDim), scale, window,
                                                  Int32(h), Int32(h + 1), out, Int64(qStride), scratch)
                        }
                    }
                }
            }
        }
    }
}

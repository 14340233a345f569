import CFlintKernels
import FlintTensor

/// What a forward pass runs with: the thread pool and scratch memory reused from
/// pass to pass (grown when a larger batch arrives, never per token).
public final class ForwardContext: @unchecked Sendable {
    public let pool: ThreadPool
    /// Quantized activations for matmuls.
    public let quantized = QuantizedActivations()
    /// Which of llama.cpp's batch arithmetics each row of the current pass takes (set by `plan`).
    public let gemmRows = GemmRowPlan()
    /// Per-thread attention score rows, and their addresses for the attention job.
    let attentionScratch: [ScratchBuffer]
    let attentionScratchPointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    private let scratch: [ScratchBuffer] = Scratch.allCases.map { _ in ScratchBuffer() }

    /// The scratch buffers of a forward pass, one per use (a buffer is reused by every pass,
    /// so two live values never share one).
    public enum Scratch: Int, CaseIterable, Sendable {
        // Activations: the residual stream, its normed copy, Q/K/V, the attention output
        // and the two MLP branches.
        case residual, normed, q, k, v, attention, gate, up
        // RoPE tables (Gemma 3: local and global layers).
        case ropeTable, ropeTableGlobal
        // The output head: its normed rows and the logits.
        case headRows, logits
        // LoRA: the batch's items, a projection's calls, and its per-call activations
        // (quantized input, the inner product and its quantization, the expanded output).
        case loraItems, loraCalls, loraInputQuantized, loraInner, loraInnerQuantized, loraExpanded
    }

    public init(threads: Int) {
        pool = ThreadPool(threads: threads)
        attentionScratch = (0..<max(1, threads)).map { _ in ScratchBuffer() }
        attentionScratchPointers = .allocate(capacity: attentionScratch.count)
        for (i, s) in attentionScratch.enumerated() { (attentionScratchPointers + i).initialize(to: s.floats(1)) }
    }

    deinit { attentionScratchPointers.deallocate() }

    /// Per-thread score rows of at least `count` floats.
    func attentionScores(_ count: Int) -> UnsafeMutablePointer<UnsafeMutablePointer<Float>> {
        for (i, s) in attentionScratch.enumerated() { attentionScratchPointers[i] = s.floats(count) }
        return attentionScratchPointers
    }

    /// The attention job's work units, as row ranges [begin, end): a decoding row alone, a
    /// prompt chunk in tiles of up to FLINT_ATTENTION_TILE_ROWS rows (set by `plan`).
    private(set) var attentionUnits: [(begin: Int32, end: Int32)] = []

    /// Prepares per-pass state that depends on the batch's layout; models call it first.
    func plan(_ batch: ForwardBatch) {
        gemmRows.update(rows: batch.tokenCount, chunks: batch.sequences.count) { batch.sequences[$0].count }
        attentionUnits.removeAll(keepingCapacity: true)
        let tile = Int(FLINT_ATTENTION_TILE_ROWS)
        for sequence in batch.sequences {
            for begin in stride(from: sequence.start, to: sequence.start + sequence.count, by: tile) {
                attentionUnits.append((Int32(begin), Int32(min(begin + tile, sequence.start + sequence.count))))
            }
        }
    }

    /// The scratch buffer for `use`.
    public func buffer(_ use: Scratch) -> ScratchBuffer { scratch[use.rawValue] }
}

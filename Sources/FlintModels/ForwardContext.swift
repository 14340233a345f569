import FlintTensor

/// What a forward pass runs with: the thread pool and scratch memory reused from
/// pass to pass (grown when a larger batch arrives, never per token).
public final class ForwardContext: @unchecked Sendable {
    public let pool: ThreadPool
    /// Quantized activations for matmuls.
    public let quantized = QuantizedActivations()
    /// Per-thread attention score rows.
    let attentionScratch: [ScratchBuffer]
    private var named: [ScratchBuffer] = []

    public init(threads: Int) {
        pool = ThreadPool(threads: threads)
        attentionScratch = (0..<max(1, threads)).map { _ in ScratchBuffer() }
    }

    /// Scratch buffer number `i` (a model numbers its activations once).
    public func buffer(_ i: Int) -> ScratchBuffer {
        while named.count <= i { named.append(ScratchBuffer()) }
        return named[i]
    }
}

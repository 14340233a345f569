import CFlintKernels

/// Which of llama.cpp's batch arithmetics (flint_gemm_form) each activation row of a forward
/// pass takes. llama.cpp multiplies the rows of a batch in whole groups of four through its
/// repacked GEMM (Q4_K) and batches of eight rows or more through its tiled GEMM (Q6_K),
/// and those round differently from its one-row kernel. Flint applies the rules per sequence
/// chunk, so that a prompt evaluated in one pass matches llama.cpp's, and a row's result
/// never depends on the other sequences in the batch.
public final class GemmRowPlan: @unchecked Sendable {
    /// flint_row_flags of each row; capacity grows, never shrinks.
    private(set) var flags: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// Some row has a flag set.
    public private(set) var hasBatchRows = false

    public init() {
        capacity = 64
        flags = .allocate(capacity: capacity)
    }

    deinit { flags.deallocate() }

    /// Sets the plan for `rows` rows made of `chunks` consecutive chunks, chunk c having
    /// `chunkCount(c)` rows.
    public func update(rows: Int, chunks: Int, chunkCount: (Int) -> Int) {
        if rows > capacity {
            flags.deallocate()
            capacity = max(rows, 2 * capacity)
            flags = .allocate(capacity: capacity)
        }
        hasBatchRows = false
        var r = 0
        for c in 0..<chunks {
            let count = chunkCount(c)
            let grouped = count - count % 4
            let large: UInt8 = count >= 8 ? UInt8(FLINT_ROW_IN_8_PLUS.rawValue) : 0
            for i in 0..<count { flags[r + i] = (i < grouped ? UInt8(FLINT_ROW_IN_GROUP4.rawValue) : 0) | large }
            if grouped > 0 { hasBatchRows = true }
            r += count
        }
        precondition(r == rows, "chunks must cover the rows")
    }
}

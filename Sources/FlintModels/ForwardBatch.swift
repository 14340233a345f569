/// One forward pass's input: the new tokens of several sequences, concatenated.
/// A value with no reference to global state; the KV cache it points into is
/// passed alongside it.
public struct ForwardBatch: Sendable {
    /// One sequence's share of the batch.
    public struct Sequence: Sendable {
        /// First row of this sequence's tokens in `tokens`.
        public var start: Int
        /// Number of new tokens (a prompt chunk, or 1 when decoding).
        public var count: Int
        /// LoRA slot of this sequence (0 = base model), an index into `adapters`.
        public var loraSlot: Int32

        public init(start: Int, count: Int, loraSlot: Int32 = 0) {
            self.start = start
            self.count = count
            self.loraSlot = loraSlot
        }
    }

    public var tokens: [Int32]
    /// Position of each token within its sequence.
    public var positions: [Int32]
    public var sequences: [Sequence]
    /// KV slot (block * blockSize + offset) each token's keys/values are written to.
    public var slots: [Int32]
    /// Sequence index of each row.
    public var rowSequence: [Int32]
    /// Rows whose logits are wanted, in output order (usually each sequence's last row).
    public var logitRows: [Int32]
    /// Every sequence's block table (the physical KV block of each logical block, enough
    /// for its last position), concatenated so kernels take plain pointers, and where each
    /// sequence's starts.
    public var blockTables: [Int32]
    public var blockTableStart: [Int32]
    /// The adapter behind each LoRA slot. `removeAll` keeps it: it changes only when
    /// adapters are installed or removed, between steps.
    public var adapters = LoRATable()

    public var tokenCount: Int { tokens.count }

    public init() {
        tokens = []; positions = []; sequences = []; slots = []; rowSequence = []; logitRows = []
        blockTables = []; blockTableStart = []
    }

    /// Appends `tokens` of a sequence whose first new token sits at `startPosition`.
    /// When `wantLogits` is true the last token's logits are returned (or all rows'
    /// when `allLogits` is true, for prompt logprobs).
    public mutating func append(tokens newTokens: [Int32], startPosition: Int, blockTable: [Int32], blockSize: Int,
                                loraSlot: Int32 = 0, wantLogits: Bool = true, allLogits: Bool = false) {
        append(tokens: newTokens[...], startPosition: startPosition, blockTable: blockTable, blockSize: blockSize,
               loraSlot: loraSlot, wantLogits: wantLogits, allLogits: allLogits)
    }

    public mutating func append(tokens newTokens: ArraySlice<Int32>, startPosition: Int, blockTable: [Int32], blockSize: Int,
                                loraSlot: Int32 = 0, wantLogits: Bool = true, allLogits: Bool = false) {
        let start = tokens.count
        let seqIndex = Int32(sequences.count)
        sequences.append(Sequence(start: start, count: newTokens.count, loraSlot: loraSlot))
        blockTableStart.append(Int32(blockTables.count))
        blockTables.append(contentsOf: blockTable)
        for (i, t) in zip(0..., newTokens) {
            let pos = startPosition + i
            tokens.append(t)
            positions.append(Int32(pos))
            slots.append(blockTable[pos / blockSize] * Int32(blockSize) + Int32(pos % blockSize))
            rowSequence.append(seqIndex)
            if allLogits || (wantLogits && i == newTokens.count - 1) { logitRows.append(Int32(start + i)) }
        }
    }

    public mutating func removeAll() {
        tokens.removeAll(keepingCapacity: true)
        positions.removeAll(keepingCapacity: true)
        sequences.removeAll(keepingCapacity: true)
        slots.removeAll(keepingCapacity: true)
        rowSequence.removeAll(keepingCapacity: true)
        logitRows.removeAll(keepingCapacity: true)
        blockTables.removeAll(keepingCapacity: true)
        blockTableStart.removeAll(keepingCapacity: true)
    }
}

/// A sequence's share of one forward pass.
struct ScheduledChunk {
    let sequence: EngineSequence
    /// Tokens from `sequence.computed` on that run in this pass.
    let count: Int
    /// The chunk reaches the end of the sequence's tokens, so a token is sampled after it.
    let samples: Bool

    init(sequence: EngineSequence, count: Int) {
        self.sequence = sequence
        self.count = count
        samples = sequence.computed + count == sequence.tokens.count
    }
}

/// Decides what each forward pass runs: running sequences first (decodes and unfinished
/// prompt chunks, oldest first), then waiting sequences in arrival order while the token
/// budget, the running-sequence limit and the free KV blocks allow. A prompt longer than
/// the remaining budget is split into chunks (chunked prefill) that share passes with
/// decodes; chunks always end on a piece boundary (`EngineSequence.pieceEnd`). When a
/// running sequence needs a block and none is free, the most recently admitted sequence
/// is preempted: its blocks are released and it goes back to the front
/// of the queue, to be recomputed (its full blocks usually come back from the prefix cache).
///
/// At most `maxLoRAs` distinct adapters (non-zero LoRA slots) run at once: a waiting
/// sequence whose adapter would be one too many is passed over for those behind it, until
/// it has been passed over `maxLoRAPasses` times; then nothing behind it is admitted, so
/// the running adapters drain and it gets its turn.
final class Scheduler {
    let blocks: BlockManager
    let maxRunning: Int
    let maxBatchedTokens: Int
    /// Prompt piece length (`EngineSequence.pieceEnd`): a multiple of the block size, at
    /// most `maxBatchedTokens` (else a piece could never run).
    let piece: Int
    let maxLoRAs: Int
    static let maxLoRAPasses = 32
    /// Distinct non-zero slots among running and just-admitted sequences (a scratch list
    /// kept between passes; a handful of entries, so a linear search is cheapest).
    private var activeSlots: [Int32] = []
    private(set) var waiting: [EngineSequence] = []
    private(set) var running: [EngineSequence] = []
    private(set) var preemptions = 0
    /// Prompt tokens looked up in the prefix cache, and how many were found.
    private(set) var prefixQueryTokens = 0
    private(set) var prefixHitTokens = 0

    init(blocks: BlockManager, maxRunning: Int, maxBatchedTokens: Int, piece: Int = 512, maxLoRAs: Int = .max) {
        precondition(maxRunning > 0 && maxBatchedTokens > 0 && maxLoRAs > 0 && piece > 0)
        self.blocks = blocks
        self.maxRunning = maxRunning
        self.maxBatchedTokens = maxBatchedTokens
        let bs = blocks.blockSize
        let capped = min(piece, maxBatchedTokens)
        self.piece = capped >= bs ? capped / bs * bs : capped
        self.maxLoRAs = maxLoRAs
    }

    var hasWork: Bool { !waiting.isEmpty || !running.isEmpty }

    func add(_ sequence: EngineSequence) { waiting.append(sequence) }

    /// The next pass's chunks, into `out` (cleared first).
    func schedule(into out: inout [ScheduledChunk]) {
        out.removeAll(keepingCapacity: true)
        var budget = maxBatchedTokens
        var preempted = false
        var i = 0
        running: while i < running.count && budget > 0 {
            let seq = running[i]
            let count = seq.wholePieces(from: seq.computed, budget: budget, piece: piece)
            if count == 0 {  // its next piece waits for a pass with room
                i += 1
                continue
            }
            while !grow(seq, toTokens: seq.computed + count) {
                let victim = running.removeLast()
                preempt(victim)
                preempted = true
                if victim === seq { break running }
            }
            out.append(ScheduledChunk(sequence: seq, count: count))
            budget -= count
            i += 1
        }
        // Admitting new work in a pass that had to preempt would only thrash.
        if preempted { return }

        activeSlots.removeAll(keepingCapacity: true)
        if maxLoRAs < Int.max {
            for seq in running where seq.loraSlot != 0 && !activeSlots.contains(seq.loraSlot) { activeSlots.append(seq.loraSlot) }
        }
        var w = 0
        while w < waiting.count && budget > 0 && running.count < maxRunning {
            let seq = waiting[w]
            if let first = seq.waitsFor, !first.finished, first.isPrefilling || first.blockTable.isEmpty {
                w += 1
                continue
            }
            let slot = seq.loraSlot
            let newSlot = slot != 0 && maxLoRAs < Int.max && !activeSlots.contains(slot)
            if newSlot && activeSlots.count >= maxLoRAs {
                seq.loraPasses += 1
                if seq.loraPasses > Self.maxLoRAPasses { break }
                w += 1
                continue
            }
            guard admit(seq, budget: budget, into: &out) else { break }
            if newSlot { activeSlots.append(slot) }
            seq.loraPasses = 0
            budget -= out[out.count - 1].count
            waiting.remove(at: w)
            running.append(seq)
        }
    }

    /// Takes `seq`'s cached prefix and enough fresh blocks for its first chunk; false when
    /// the blocks are not there.
    private func admit(_ seq: EngineSequence, budget: Int, into out: inout [ScheduledChunk]) -> Bool {
        let bs = blocks.blockSize
        // At least one token must run to produce logits, so the last token is never taken
        // from the cache.
        var maxBlocks = (seq.tokens.count - 1) / bs
        if let limit = seq.request.request.promptCacheMaxLength { maxBlocks = min(maxBlocks, max(0, limit) / bs) }
        var hits = blocks.lookup(tokens: seq.tokens, salt: seq.salt, chain: &seq.blockHashes, maxBlocks: maxBlocks)
        // A preempted sequence resuming inside a prompt piece computes the piece's rest as a
        // shorter piece, which rounds like the whole piece while it keeps 8 rows or more
        // (GemmRowPlan); a shorter rest gives back one cached block so that the recomputed
        // sequence continues exactly as before. (A first admission takes every hit: blocks
        // another request computed need not round like this one's own pieces anyway.)
        if seq.admittedOnce, hits.count * bs < seq.promptCount, (hits.count * bs) % piece != 0,
           seq.pieceEnd(after: hits.count * bs, piece: piece) - hits.count * bs < 8 {
            hits.removeLast()
        }
        let hitTokens = hits.count * bs
        let count = seq.wholePieces(from: hitTokens, budget: budget, piece: piece)
        if count == 0 { return false }
        let fresh = blocks.blocksNeeded(forTokens: hitTokens + count) - hits.count
        guard blocks.freeCount - blocks.unreferencedCount(hits) >= fresh else { return false }
        blocks.acquire(hits)
        seq.blockTable = hits
        for _ in 0..<fresh { seq.blockTable.append(blocks.allocate()!) }
        seq.computed = hitTokens
        seq.registeredBlocks = hits.count
        if !seq.admittedOnce {
            seq.admittedOnce = true
            seq.cachedPromptTokens = min(hitTokens, seq.promptCount)
            prefixQueryTokens += seq.promptCount
            prefixHitTokens += seq.cachedPromptTokens
        }
        out.append(ScheduledChunk(sequence: seq, count: count))
        return true
    }

    /// Extends `seq`'s block table to hold `n` tokens; false when there are not enough free blocks.
    private func grow(_ seq: EngineSequence, toTokens n: Int) -> Bool {
        let needed = blocks.blocksNeeded(forTokens: n) - seq.blockTable.count
        if needed <= 0 { return true }
        guard blocks.freeCount >= needed else { return false }
        for _ in 0..<needed { seq.blockTable.append(blocks.allocate()!) }
        return true
    }

    private func preempt(_ seq: EngineSequence) {
        blocks.release(seq.blockTable)
        seq.blockTable = []
        seq.computed = 0
        seq.registeredBlocks = 0
        waiting.insert(seq, at: 0)
        preemptions += 1
    }

    /// Records that the chunks ran: their keys and values are now in the cache, and newly
    /// filled blocks become available to the prefix cache.
    func didRun(_ chunks: [ScheduledChunk]) {
        let bs = blocks.blockSize
        for chunk in chunks {
            let seq = chunk.sequence
            seq.computed += chunk.count
            while (seq.registeredBlocks + 1) * bs <= seq.computed {
                let b = seq.registeredBlocks
                let range = (b * bs)..<((b + 1) * bs)
                let parent = b == 0 ? seq.salt : seq.blockHashes[b - 1]
                if seq.blockHashes.count == b { seq.blockHashes.append(BlockManager.chainHash(parent: parent, tokens: seq.tokens[range])) }
                blocks.register(seq.blockTable[b], hash: seq.blockHashes[b], parent: parent, tokens: seq.tokens[range])
                seq.registeredBlocks += 1
            }
        }
    }

    /// Removes a finished or cancelled sequence and releases its blocks.
    func remove(_ seq: EngineSequence) {
        seq.finished = true
        if let i = running.firstIndex(where: { $0 === seq }) {
            running.remove(at: i)
        } else if let i = waiting.firstIndex(where: { $0 === seq }) {
            waiting.remove(at: i)
        }
        blocks.release(seq.blockTable)
        seq.blockTable = []
    }
}

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

/// Decides what each forward pass runs: running sequences first (decodes, then unfinished
/// prompt chunks, each oldest first), then waiting sequences in arrival order while the
/// token budget, the running-sequence limit and the free KV blocks allow. A prompt longer than
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
    /// most `maxBatchedTokens`.
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

    /// Context length at which a prompt token's attention costs as much as its matrix
    /// products (0: attention is not counted); see `promptCost`.
    let attentionBreakEven: Int

    init(blocks: BlockManager, maxRunning: Int, maxBatchedTokens: Int, piece: Int = 512, maxLoRAs: Int = .max,
         attentionBreakEven: Int = 0) {
        precondition(maxRunning > 0 && maxBatchedTokens > 0 && maxLoRAs > 0 && piece > 0)
        self.attentionBreakEven = attentionBreakEven
        self.blocks = blocks
        self.maxRunning = maxRunning
        self.maxBatchedTokens = maxBatchedTokens
        let bs = blocks.blockSize
        let capped = min(piece, maxBatchedTokens)
        self.piece = capped >= bs ? capped / bs * bs : capped
        self.maxLoRAs = maxLoRAs
    }

    var hasWork: Bool { !waiting.isEmpty || !running.isEmpty }

    /// What prompt tokens start..<end cost against the step's budget: one per token, plus
    /// their attention over the context before them, in tokens' worth of matrix products. A
    /// piece deep in a long prompt costs several times one at its start (SmolLM2 at 5,000
    /// tokens: 5.5x, measured), and counting only tokens let such pieces stall the decodes beside them
    /// for seconds.
    func promptCost(from start: Int, to end: Int) -> Int {
        guard attentionBreakEven > 0 else { return end - start }
        return (end - start) + (end - start) * (start + end) / 2 / attentionBreakEven
    }

    /// Whole pieces of `seq` from `start` whose cost fits `budget`: (tokens, cost).
    private func pieces(_ seq: EngineSequence, from start: Int, budget: Int) -> (tokens: Int, cost: Int) {
        var end = start, cost = 0
        while end < seq.tokens.count {
            let next = seq.pieceEnd(after: end, piece: piece)
            // A decode costs its one token: its attention reads memory the step streams anyway.
            let c = end < seq.promptCount ? promptCost(from: end, to: next) : next - end
            if cost + c > budget { break }
            end = next
            cost += c
        }
        return (end - start, cost)
    }

    func add(_ sequence: EngineSequence) { waiting.append(sequence) }

    /// The next pass's chunks, into `out` (cleared first).
    func schedule(into out: inout [ScheduledChunk]) {
        out.removeAll(keepingCapacity: true)
        var budget = maxBatchedTokens
        var rowsLeft = maxBatchedTokens  // the budget counts attention too; rows are capped apart
        var preempted = false
        // Decodes first, then prompt pieces: a stream already generating gets its token in
        // every pass, and prompts (running ones oldest first, then admissions) share what is
        // left of the budget. The oldest unfinished prompt (running, else the first admitted)
        // still advances one piece in every pass: the decodes leave room for one, and the
        // piece runs even when its attention costs more than the budget left (so a pass never
        // holds more tokens than the budget, and a long prompt's cost is what a pass adds to
        // the decodes beside it, not a stall).
        var progressOwed = true
        let promptCanRun = running.contains(where: \.isPrefilling) || (!waiting.isEmpty && running.count < maxRunning)
        let reserve = promptCanRun && budget >= 2 * piece ? piece : 0
        running: for decodes in [true, false] {
            var i = 0
            while i < running.count && (budget > 0 || progressOwed) {
                let seq = running[i]
                if seq.isPrefilling == decodes {
                    i += 1
                    continue
                }
                var (count, cost) = pieces(seq, from: seq.computed, budget: max(0, decodes ? budget - reserve : budget))
                let next = seq.pieceEnd(after: seq.computed, piece: piece) - seq.computed
                if count == 0 && progressOwed && !decodes && next <= rowsLeft {
                    count = next
                    cost = max(0, budget)
                }
                if !decodes && count > 0 { progressOwed = false }
                if count == 0 {  // its next piece waits for a pass with room
                    i += 1
                    continue
                }
                while !grow(seq, toTokens: seq.computed + count) {
                    let victim = running.removeLast()
                    if let k = out.firstIndex(where: { $0.sequence === victim }) {  // a decode scheduled above
                        budget += out[k].count  // a decode's cost
                        rowsLeft += out[k].count
                        out.remove(at: k)
                    }
                    preempt(victim)
                    preempted = true
                    if victim === seq { break running }
                }
                out.append(ScheduledChunk(sequence: seq, count: count))
                budget -= cost
                rowsLeft -= count
                i += 1
            }
        }
        // Admitting new work in a pass that had to preempt would only thrash.
        if preempted { return }

        activeSlots.removeAll(keepingCapacity: true)
        if maxLoRAs < Int.max {
            for seq in running where seq.loraSlot != 0 && !activeSlots.contains(seq.loraSlot) { activeSlots.append(seq.loraSlot) }
        }
        var w = 0
        while w < waiting.count && (budget > 0 || progressOwed) && running.count < maxRunning {
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
            guard let cost = admit(seq, budget: budget, force: progressOwed ? rowsLeft : 0, into: &out) else { break }
            progressOwed = false
            rowsLeft -= out[out.count - 1].count
            if newSlot { activeSlots.append(slot) }
            seq.loraPasses = 0
            budget -= cost
            waiting.remove(at: w)
            running.append(seq)
        }
    }

    /// Takes `seq`'s cached prefix and enough fresh blocks for its first chunk and returns
    /// the budget the chunk takes; nil when the blocks (or the budget) are not there.
    /// `force`: rows left for one piece taken beyond the budget (the pass's progress piece), or 0.
    private func admit(_ seq: EngineSequence, budget: Int, force: Int, into out: inout [ScheduledChunk]) -> Int? {
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
        var (count, cost) = pieces(seq, from: hitTokens, budget: max(0, budget))
        let first = seq.pieceEnd(after: hitTokens, piece: piece) - hitTokens
        if count == 0 && first <= force {
            count = first
            cost = max(0, budget)
        }
        if count == 0 { return nil }
        let fresh = blocks.blocksNeeded(forTokens: hitTokens + count) - hits.count
        guard blocks.freeCount - blocks.unreferencedCount(hits) >= fresh else { return nil }
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
        return cost
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
        for chunk in chunks { computed(chunk.sequence, count: chunk.count) }
    }

    /// `count` more tokens of `seq` have keys and values in the cache.
    private func computed(_ seq: EngineSequence, count: Int) {
        let bs = blocks.blockSize
        seq.computed += count
        while (seq.registeredBlocks + 1) * bs <= seq.computed {
            let b = seq.registeredBlocks
            let range = (b * bs)..<((b + 1) * bs)
            let parent = b == 0 ? seq.salt : seq.blockHashes[b - 1]
            if seq.blockHashes.count == b { seq.blockHashes.append(BlockManager.chainHash(parent: parent, tokens: seq.tokens[range])) }
            blocks.register(seq.blockTable[b], hash: seq.blockHashes[b], parent: parent, tokens: seq.tokens[range])
            seq.registeredBlocks += 1
        }
    }

    /// Extends `seq`'s blocks to hold `n` tokens if that many blocks are free, never
    /// preempting (speculative rows are worth less than a running sequence); returns how
    /// many tokens its blocks hold.
    func reserve(_ seq: EngineSequence, tokens n: Int) -> Int {
        _ = grow(seq, toTokens: n)
        return seq.blockTable.count * blocks.blockSize
    }

    /// After a verification step (whose first row `didRun` counted): `accepted` proposals
    /// are now context too, so their filled blocks join the prefix cache; blocks reserved
    /// only for rejected proposals go back, their slots never read.
    func advance(_ seq: EngineSequence, by accepted: Int) {
        computed(seq, count: accepted)
        let needed = blocks.blocksNeeded(forTokens: seq.tokens.count)
        if seq.blockTable.count > needed {
            blocks.release(seq.blockTable[needed...])
            seq.blockTable.removeLast(seq.blockTable.count - needed)
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

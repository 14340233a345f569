/// Decides, every step, how many proposed tokens each speculating sequence verifies.
///
/// A proposed token costs a row of the forward pass (and, from a draft model, a row of the
/// draft's pass at its depth) and is worth the chance that it, and every proposal before
/// it, is accepted: for a sequence whose proposals are accepted at rate a, the j-th is
/// worth a^j tokens. The planner adds rows one at a time, always the one worth most, while
/// the step's expected output tokens per second (its decodes' tokens plus the accepted
/// proposals, over the measured time of passes with that many rows, `StepCost`) still
/// rises. So a lone stream whose proposals keep being accepted verifies many at once, a
/// stream whose proposals fail verifies one or none, and in a large batch, where each row
/// costs its full arithmetic, speculation switches itself off unless its proposals are
/// nearly certain.
final class SpeculationPlanner {
    /// A sequence's recent acceptance: proposals accepted over proposals decided, with older
    /// steps weighing less, plus two decisions' worth of a prior. A sequence that stops
    /// verifying forgets its evidence step by step, so it tries again once the prior is back
    /// (proposals that failed a while ago may match now: a file's edited part has passed).
    struct Acceptance {
        private var accepted = 0.0
        private var decided = 0.0
        /// What proposals are expected to do before any was verified: a prediction is the
        /// client's word that the output follows it; a lookup or a draft has to show it.
        let prior: Double
        static let decay = 0.8

        init(prior: Double) { self.prior = prior }

        var rate: Double { (accepted + 2 * prior) / (decided + 2) }

        /// `a` of `k` proposals were accepted: a successes, and a failure unless all were.
        mutating func record(accepted a: Int, of k: Int) {
            accepted = accepted * Self.decay + Double(a)
            decided = decided * Self.decay + Double(a < k ? a + 1 : a)
        }

        /// A step with proposals that verified none of them.
        mutating func forget() {
            accepted *= Self.decay
            decided *= Self.decay
        }
    }

    let cost: StepCost
    /// The draft model's passes, when the engine has one.
    let draftCost: StepCost?
    /// Context length at which a row's attention costs as much as its matrix products
    /// (LLMEngine.attentionBreakEven; 0: not counted).
    let attentionBreakEven: Int
    /// Verify every available proposal, without weighing costs (for tests and comparisons).
    let adaptive: Bool
    /// Rows of the draft pass at each depth while planning, and the candidates in the order
    /// their rows were added (scratch kept between steps).
    private var draftRows: [Int] = []
    private var picks: [EngineSequence] = []

    init(cost: StepCost, draftCost: StepCost?, attentionBreakEven: Int, adaptive: Bool) {
        self.cost = cost
        self.draftCost = draftCost
        self.attentionBreakEven = attentionBreakEven
        self.adaptive = adaptive
    }

    /// Whether a draft model could pay at all beside `decodes` decoding sequences: some
    /// number of proposals for one of them (up to 8), all accepted, each costing a draft pass
    /// and a verification row, gives more tokens per second than the decodes alone. When it
    /// cannot, new prompts are not mirrored into the draft's cache, work only drafting would
    /// use (qwen2.5-coder-1.5b with the 0.5b on an AVX2 host: 8 streams lost 13% to it).
    func draftingCanPay(decodes: Int) -> Bool {
        guard let draftCost else { return false }
        guard adaptive else { return true }
        let n = max(1, decodes)
        let alone = Double(n) / cost.seconds(rows: n)
        for k in 1...8 where Double(n + k) / (cost.seconds(rows: n + k) + Double(k) * draftCost.seconds(rows: 1)) > alone {
            return true
        }
        return false
    }

    /// Sets each candidate's `granted`: how many of its (at most `proposalLimit`) proposals
    /// to verify this step. `rows`: the step's rows before speculation; `outputs`: sequences
    /// sampling in it; `rowsLeft`: rows the step may still take; `mirroredRows`: prompt rows
    /// the draft model runs this step anyway (LLMEngine.runDraft).
    func plan(_ candidates: [EngineSequence], rows: Int, outputs: Int, rowsLeft: Int, mirroredRows: Int) {
        guard adaptive else {
            var left = rowsLeft
            for s in candidates {
                s.granted = min(s.proposalLimit, max(0, left))
                left -= s.granted
            }
            return
        }
        for s in candidates { s.granted = 0 }
        draftRows.removeAll(keepingCapacity: true)
        draftRows.append(mirroredRows)
        picks.removeAll(keepingCapacity: true)
        var time = cost.seconds(rows: rows), tokens = Double(outputs)
        if mirroredRows > 0, let draftCost { time += draftCost.seconds(rows: mirroredRows) }
        // Rows in order of worth; the step keeps the first n of them for the n with the most
        // tokens per second. (Not the first row that stops paying: a pass's time is not
        // linear in its rows — on an AVX2 host the second row of a 1.5B model cost 40% of a
        // pass and the next two 25% together — and a draft's next depth costs a whole pass.)
        var best = tokens / time, keep = 0
        while picks.count < rowsLeft {
            var next: EngineSequence?
            var worth = 0.0
            for s in candidates where s.granted < s.proposalLimit {
                let w = s.nextProposalWorth
                if w > worth { (next, worth) = (s, w) }
            }
            guard let s = next, worth > 0.01 else { break }
            var extra = cost.seconds(rows: rows + picks.count + 1) - cost.seconds(rows: rows + picks.count)
            if attentionBreakEven > 0 { extra *= 1 + Double(s.tokens.count) / Double(attentionBreakEven) }
            // A draft's proposal j costs its rows in the draft's j-th pass: the first also
            // runs the tokens the draft has not seen yet; a pass that nobody needed before
            // costs its whole time.
            if s.drafts, let draftCost {
                let depth = s.granted
                let added = depth == 0 ? s.tokens.count - min(s.draftComputed, s.computed) : 1
                if draftRows.count == depth { draftRows.append(0) }
                let n = draftRows[depth]
                extra += draftCost.seconds(rows: n + added) - (n > 0 ? draftCost.seconds(rows: n) : 0)
                draftRows[depth] += added
            }
            time += extra
            tokens += worth
            picks.append(s)
            s.granted += 1
            s.nextProposalWorth *= s.acceptance.rate
            if tokens / time > best { (best, keep) = (tokens / time, picks.count) }
        }
        for s in picks[keep...] { s.granted -= 1 }
    }
}

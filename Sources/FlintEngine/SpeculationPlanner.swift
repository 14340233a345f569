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
    /// steps weighing less, and a prior of one accepted and one rejected.
    struct Acceptance {
        private var accepted = 0.0
        private var decided = 0.0
        static let decay = 0.8

        var rate: Double { (accepted + 1) / (decided + 2) }

        /// `a` of `k` proposals were accepted: a successes, and a failure unless all were.
        mutating func record(accepted a: Int, of k: Int) {
            accepted = accepted * Self.decay + Double(a)
            decided = decided * Self.decay + Double(a < k ? a + 1 : a)
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
    /// Rows of the draft pass at each depth while planning (scratch kept between steps).
    private var draftRows: [Int] = []

    init(cost: StepCost, draftCost: StepCost?, attentionBreakEven: Int, adaptive: Bool) {
        self.cost = cost
        self.draftCost = draftCost
        self.attentionBreakEven = attentionBreakEven
        self.adaptive = adaptive
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
        var time = cost.seconds(rows: rows), tokens = Double(outputs)
        if mirroredRows > 0, let draftCost { time += draftCost.seconds(rows: mirroredRows) }
        var total = rows
        while total - rows < rowsLeft {
            // The next row worth most: the sequence whose next proposal is likeliest accepted.
            var best: EngineSequence?
            var worth = 0.0
            for s in candidates where s.granted < s.proposalLimit {
                let w = s.nextProposalWorth
                if w > worth { (best, worth) = (s, w) }
            }
            guard let s = best else { break }
            var extra = cost.seconds(rows: total + 1) - cost.seconds(rows: total)
            if attentionBreakEven > 0 { extra *= 1 + Double(s.tokens.count) / Double(attentionBreakEven) }
            // A draft's proposal j costs its rows in the draft's j-th pass: the first also
            // runs the tokens the draft has not seen yet; a pass that nobody needed before
            // costs its whole time.
            var depth = 0, added = 0
            if s.drafts, let draftCost {
                depth = s.granted
                added = depth == 0 ? s.tokens.count - min(s.draftComputed, s.computed) : 1
                if draftRows.count == depth { draftRows.append(0) }
                let n = draftRows[depth]
                extra += draftCost.seconds(rows: n + added) - (n > 0 ? draftCost.seconds(rows: n) : 0)
            }
            // Worth adding while (tokens + worth) / (time + extra) > tokens / time.
            guard worth * time > tokens * extra else { break }
            if added > 0 { draftRows[depth] += added }
            time += extra
            tokens += worth
            total += 1
            s.granted += 1
            s.nextProposalWorth *= s.acceptance.rate
        }
    }
}

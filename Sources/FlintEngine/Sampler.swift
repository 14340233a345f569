import CFlintKernels
import Foundation

/// Picks the next token from (processed) logits: greedy when temperature is 0,
/// otherwise temperature → top-k → top-p → min-p → a draw from the request's own
/// seeded generator (vLLM's order).
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var rng: RandomSource
    /// Reused candidate storage, so sampling allocates only while it grows.
    private var candidates: [(id: Int32, p: Float)] = []

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        rng = RandomSource(seed: parameters.seed ?? UInt64.random(in: .min ... .max))
    }

    /// The first index of the largest logit, NaNs ignored; 0 when none is above -inf.
    public static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        guard let base = logits.baseAddress else { return 0 }
        return Int32(flint_argmax(base, Int64(logits.count)))
    }

    public mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        let p = parameters
        if p.isGreedy || logits.count == 1 { return Self.argmax(logits) }
        let invT = 1 / p.temperature
        var maxLogit = -Float.infinity
        for l in logits where l > maxLogit { maxLogit = l }
        guard maxLogit.isFinite else { return Self.argmax(logits) }

        // Probabilities relative to the best token; tokens below 1e-9 of it cannot
        // matter to any of the filters and are skipped before sorting.
        candidates.removeAll(keepingCapacity: true)
        var total: Double = 0
        for i in 0..<logits.count {
            let e = expf((logits[i] - maxLogit) * invT)
            if e >= 1e-9 {
                candidates.append((Int32(i), e))
                total += Double(e)
            }
        }
        let needSort = p.topK > 0 || p.topP < 1
        if needSort {
            candidates.sort { $0.p > $1.p || ($0.p == $1.p && $0.id < $1.id) }
            if p.topK > 0 && candidates.count > p.topK { candidates.removeLast(candidates.count - p.topK) }
            if p.topP < 1 {
                let sum = candidates.reduce(0.0) { $0 + Double($1.p) }
                var acc = 0.0
                var keep = candidates.count
                for (i, c) in candidates.enumerated() {
                    acc += Double(c.p)
                    if acc >= Double(p.topP) * sum { keep = i + 1; break }
                }
                candidates.removeLast(candidates.count - keep)
            }
        }
        if p.minP > 0 {
            // The best candidate has relative probability 1.
            candidates.removeAll { $0.p < p.minP }
        }
        total = candidates.reduce(0.0) { $0 + Double($1.p) }
        guard total > 0, !candidates.isEmpty else { return Self.argmax(logits) }
        var r = rng.nextUnit() * total
        for c in candidates {
            r -= Double(c.p)
            if r < 0 { return c.id }
        }
        return candidates[candidates.count - 1].id
    }
}

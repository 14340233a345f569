import Foundation

/// A token's log-probability (natural log, from the model's unprocessed distribution)
/// with the most likely alternatives at that step.
public struct TokenLogprob: Sendable, Equatable {
    public var token: Int32
    public var logprob: Float
    public var top: [(token: Int32, logprob: Float)]

    public static func == (a: TokenLogprob, b: TokenLogprob) -> Bool {
        a.token == b.token && a.logprob == b.logprob && a.top.elementsEqual(b.top) { $0 == $1 }
    }
}

extension TokenLogprob {
    /// Log-softmax of `logits` at `token`, with the `top` most likely tokens (ties by id).
    public init(logits: UnsafeBufferPointer<Float>, token: Int32, top k: Int) {
        var maxLogit = -Float.infinity
        for l in logits where l > maxLogit { maxLogit = l }
        var sum: Double = 0
        for l in logits { sum += Double(expf(l - maxLogit)) }
        let logZ = maxLogit + Float(log(sum))
        self.token = token
        logprob = Int(token) < logits.count ? logits[Int(token)] - logZ : -.infinity
        // Top-k by a bounded insertion list: k is small (OpenAI allows at most 20).
        var best: [(token: Int32, logprob: Float)] = []
        if k > 0 {
            best.reserveCapacity(k + 1)
            for i in 0..<logits.count {
                let l = logits[i]
                if best.count == k, let last = best.last, l <= last.logprob { continue }
                var at = best.count
                while at > 0 && best[at - 1].logprob < l { at -= 1 }
                best.insert((Int32(i), l), at: at)
                if best.count > k { best.removeLast() }
            }
        }
        self.top = best.map { ($0.token, $0.logprob - logZ) }
    }
}

/// One step of the chain that edits logits before sampling (bias → penalties →
/// grammar mask → temperature in the sampler). Processors see the prompt and the
/// tokens generated so far.
public protocol LogitProcessor: Sendable {
    func process(_ logits: UnsafeMutableBufferPointer<Float>, history: TokenHistory)
}

/// The tokens a processor may look at, with output-token counts kept incrementally
/// so penalties cost O(distinct tokens), not O(history), per step.
public struct TokenHistory: Sendable {
    public private(set) var promptTokens: Set<Int32>
    public private(set) var outputCounts: [Int32: Int] = [:]

    public init(prompt: [Int32]) { promptTokens = Set(prompt) }

    public mutating func append(_ token: Int32) { outputCounts[token, default: 0] += 1 }
}

/// Adds a fixed bias to chosen tokens (OpenAI `logit_bias`).
public struct LogitBiasProcessor: LogitProcessor {
    public let bias: [Int32: Float]
    public func process(_ logits: UnsafeMutableBufferPointer<Float>, history: TokenHistory) {
        for (t, b) in bias where t >= 0 && Int(t) < logits.count { logits[Int(t)] += b }
    }
}

/// Repetition penalty (divide positive / multiply negative logits of every token seen
/// in prompt or output), then OpenAI presence and frequency penalties on output tokens.
public struct PenaltyProcessor: LogitProcessor {
    public let repetition: Float
    public let presence: Float
    public let frequency: Float

    public func process(_ logits: UnsafeMutableBufferPointer<Float>, history: TokenHistory) {
        if repetition != 1 {
            func penalize(_ t: Int32) {
                guard t >= 0 && Int(t) < logits.count else { return }
                let l = logits[Int(t)]
                logits[Int(t)] = l > 0 ? l / repetition : l * repetition
            }
            for t in history.promptTokens { penalize(t) }
            for t in history.outputCounts.keys where !history.promptTokens.contains(t) { penalize(t) }
        }
        if presence != 0 || frequency != 0 {
            for (t, n) in history.outputCounts where t >= 0 && Int(t) < logits.count {
                logits[Int(t)] -= presence + frequency * Float(n)
            }
        }
    }
}

extension SamplingParameters {
    /// The processors these parameters ask for, in chain order.
    public var processors: [any LogitProcessor] {
        var chain: [any LogitProcessor] = []
        if !logitBias.isEmpty { chain.append(LogitBiasProcessor(bias: logitBias)) }
        if repetitionPenalty != 1 || presencePenalty != 0 || frequencyPenalty != 0 {
            chain.append(PenaltyProcessor(repetition: repetitionPenalty, presence: presencePenalty, frequency: frequencyPenalty))
        }
        return chain
    }
}

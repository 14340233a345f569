/// How the next token is chosen. Defaults match the OpenAI API (temperature 1,
/// no truncation); temperature 0 means greedy.
public struct SamplingParameters: Sendable, Equatable {
    public var temperature: Float = 1
    /// Keep the `topK` most likely tokens (0 = all).
    public var topK: Int = 0
    /// Keep the smallest set of tokens whose probability reaches `topP`.
    public var topP: Float = 1
    /// Drop tokens less likely than `minP` times the most likely one.
    public var minP: Float = 0
    /// > 1 discourages tokens already seen (prompt and output), as in llama.cpp/vLLM.
    public var repetitionPenalty: Float = 1
    /// OpenAI penalties over the generated tokens.
    public var presencePenalty: Float = 0
    public var frequencyPenalty: Float = 0
    /// Added to the logits of the given tokens before anything else.
    public var logitBias: [Int32: Float] = [:]
    /// Same seed and same inputs → same output.
    public var seed: UInt64?

    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1, minP: Float = 0,
                repetitionPenalty: Float = 1, presencePenalty: Float = 0, frequencyPenalty: Float = 0,
                logitBias: [Int32: Float] = [:], seed: UInt64? = nil) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.logitBias = logitBias
        self.seed = seed
    }

    public static let greedy = SamplingParameters(temperature: 0)

    public var isGreedy: Bool { temperature <= 0 }
}

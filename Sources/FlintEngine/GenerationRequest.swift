import FlintGrammar

/// What a client asks the engine for: a tokenized prompt and how to continue it.
public struct GenerationRequest: Sendable {
    public var prompt: [Int32]
    public var sampling: SamplingParameters
    /// Most new tokens per completion.
    public var maxTokens: Int
    /// Strings that end a completion; they are matched across token boundaries and not emitted.
    public var stop: [String]
    /// Token ids that end a completion besides the model's end-of-generation tokens.
    public var stopTokenIDs: Set<Int32>
    /// Keep generating past end-of-generation tokens (benchmarks).
    public var ignoreEOS: Bool
    /// Number of completions; they share the prompt's KV blocks.
    public var n: Int
    /// When set, each token comes with its log-probability and this many top alternatives.
    public var logprobs: Int?
    /// Only requests with the same key share prefix-cache blocks.
    public var cacheIsolationKey: String?
    /// Use at most this many prompt tokens from the prefix cache.
    public var promptCacheMaxLength: Int?
    /// Leave control tokens out of the text.
    public var skipSpecialTokens: Bool
    /// LoRA slot (0 = base model).
    public var loraSlot: Int32
    /// Constrains the output to this grammar (JSON mode, a JSON schema, GBNF): tokens it
    /// cannot continue with are masked out, and end of generation is allowed only where
    /// the grammar is complete.
    public var grammar: Grammar?
    /// When set, the grammar is lazy: the output is free until the trigger shows, and from
    /// the match on it must follow the grammar.
    public var grammarTrigger: GrammarTrigger?
    /// The output's expected tokens (OpenAI's predicted outputs): the engine proposes them
    /// where the output follows them and verifies the proposals in the forward pass, so
    /// the output is what it would be without them, only sooner.
    public var prediction: [Int32]

    public init(prompt: [Int32], sampling: SamplingParameters = .greedy, maxTokens: Int = 16,
                stop: [String] = [], stopTokenIDs: Set<Int32> = [], ignoreEOS: Bool = false, n: Int = 1,
                logprobs: Int? = nil, cacheIsolationKey: String? = nil, promptCacheMaxLength: Int? = nil,
                skipSpecialTokens: Bool = true, loraSlot: Int32 = 0, grammar: Grammar? = nil,
                grammarTrigger: GrammarTrigger? = nil, prediction: [Int32] = []) {
        self.prediction = prediction
        self.prompt = prompt
        self.sampling = sampling
        self.maxTokens = maxTokens
        self.stop = stop
        self.stopTokenIDs = stopTokenIDs
        self.ignoreEOS = ignoreEOS
        self.n = n
        self.logprobs = logprobs
        self.cacheIsolationKey = cacheIsolationKey
        self.promptCacheMaxLength = promptCacheMaxLength
        self.skipSpecialTokens = skipSpecialTokens
        self.loraSlot = loraSlot
        self.grammar = grammar
        self.grammarTrigger = grammarTrigger
    }
}

/// Why a completion ended.
public enum FinishReason: String, Sendable, Equatable {
    /// An end-of-generation token, a stop token or a stop string.
    case stop
    /// max_tokens or the context length.
    case length
    /// The consumer went away.
    case cancelled
    /// The engine failed or shut down before the completion ended.
    case error
}

/// Token counts of a finished request.
public struct Usage: Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    /// Prompt tokens whose keys and values came from the prefix cache.
    public var cachedPromptTokens: Int
    /// Tokens of the request's prediction that the output took, and that it did not (the
    /// latter included in `completionTokens`).
    public var acceptedPredictionTokens: Int
    public var rejectedPredictionTokens: Int
    public var totalTokens: Int { promptTokens + completionTokens }

    public init(promptTokens: Int, completionTokens: Int, cachedPromptTokens: Int, acceptedPredictionTokens: Int = 0,
                rejectedPredictionTokens: Int = 0) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedPromptTokens = cachedPromptTokens
        self.acceptedPredictionTokens = acceptedPredictionTokens
        self.rejectedPredictionTokens = rejectedPredictionTokens
    }
}

/// What the engine streams back for a request: new tokens of one of its completions, and
/// at the end of each completion its finish reason. The request's last event carries usage.
public struct EngineEvent: Sendable {
    /// Which completion (0..<n).
    public var index: Int
    public var tokenIDs: [Int32]
    /// Text that became final with these tokens (stop strings and half characters held back).
    public var text: String
    /// One entry per token of `tokenIDs` when logprobs were asked for.
    public var logprobs: [TokenLogprob]
    public var finishReason: FinishReason?
    public var usage: Usage?

    /// Adds the next token's event of the same completion (a step that accepted proposals).
    mutating func append(_ next: EngineEvent) {
        tokenIDs += next.tokenIDs
        text += next.text
        logprobs += next.logprobs
        finishReason = next.finishReason
    }
}

/// Why the engine refused a request at submit.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    case emptyPrompt
    case invalidToken(Int32)
    case invalidParameter(name: String, reason: String)
    /// Prompt plus max_tokens can never fit the context length or the KV pool.
    case tooLong(promptTokens: Int, maxTokens: Int, limit: Int)
    /// The waiting queue is full; retry later.
    case overloaded(waiting: Int)
    case shuttingDown

    public var description: String {
        switch self {
        case .emptyPrompt: return "the prompt is empty"
        case .invalidToken(let t): return "token id \(t) is outside the vocabulary"
        case .invalidParameter(let name, let reason): return "\(name) \(reason)"
        case .tooLong(let p, let m, let l):
            return "this request needs \(p) prompt tokens plus up to \(m) new tokens, more than the limit of \(l) tokens"
        case .overloaded(let w): return "the server is overloaded (\(w) requests waiting); retry later"
        case .shuttingDown: return "the engine is shutting down"
        }
    }
}

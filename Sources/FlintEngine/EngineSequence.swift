import FlintTokenizers

/// One completion in flight, as the scheduler sees it: its tokens (prompt, then output),
/// how many of them already have keys and values in the cache, and its KV blocks. What the
/// client sees (sampling, text, grammar) is its `output`, advanced by the OutputProcessor.
final class EngineSequence {
    let request: RequestState
    /// Which of the request's completions this is.
    let index: Int
    var tokens: [Int32]
    let promptCount: Int
    /// Leading tokens whose keys and values are in the cache.
    var computed = 0
    var blockTable: [Int32] = []
    /// Chain hash of each full block of `tokens` computed so far (see BlockManager).
    var blockHashes: [UInt64] = []
    /// Leading full blocks already registered with (or taken from) the prefix cache.
    var registeredBlocks = 0
    let salt: UInt64
    /// Prompt tokens that came from the prefix cache when the sequence was first admitted.
    var cachedPromptTokens = 0
    var admittedOnce = false
    /// A sibling completion (n > 1) waits for the first one's prompt so it can reuse its blocks.
    var waitsFor: EngineSequence?
    var finished = false
    /// Times the scheduler passed this sequence over because its adapter would exceed the
    /// per-batch adapter limit (see Scheduler).
    var loraPasses = 0
    var loraSlot: Int32 { request.request.loraSlot }

    let output: SequenceOutput
    /// Engine clock (ns) of the last token, for inter-token latency.
    var lastTokenTime: UInt64 = 0

    // Speculation (see LLMEngine.speculate).
    /// Where proposals come from without a model: the request's prediction, or prompt
    /// lookup when the server enables it; nil when the sequence does not speculate so.
    var lookup: TokenLookup?
    /// Tokens proposed to follow `tokens` this step; the first `granted` are verified.
    var proposals: [Int32] = []
    var granted = 0
    /// How likely this step's next ungranted proposal is to be accepted (SpeculationPlanner).
    var nextProposalWorth = 0.0
    var acceptance: SpeculationPlanner.Acceptance
    /// Proposals come from the engine's draft model (no lookup).
    let drafts: Bool
    /// Leading tokens whose keys and values are in the draft model's cache (its blocks are
    /// this sequence's blocks, in the draft's own pool).
    var draftComputed = 0
    /// Most proposals this step (the planner's bound before a draft has proposed any).
    var proposalLimit = 0

    init(request: RequestState, index: Int, tokenizer: Tokenizer, speculation: EngineConfiguration.Speculation = .none) {
        let r = request.request
        self.request = request
        self.index = index
        tokens = r.prompt
        tokens.reserveCapacity(r.prompt.count + r.maxTokens)
        promptCount = r.prompt.count
        salt = BlockManager.salt(isolationKey: r.cacheIsolationKey, loraSlot: r.loraSlot, adapterGeneration: request.adapterGeneration)
        output = SequenceOutput(r, index: index, tokenizer: tokenizer)
        if !r.prediction.isEmpty {
            lookup = TokenLookup(.prediction(r.prediction), promptCount: promptCount)
        } else if speculation == .ngram {
            lookup = TokenLookup(.history, promptCount: promptCount)
        }
        drafts = r.prediction.isEmpty && speculation == .draft
        acceptance = .init(prior: r.prediction.isEmpty ? 0.7 : 0.9)
        proposals.reserveCapacity(16)
    }

    var generatedCount: Int { tokens.count - promptCount }
    var isPrefilling: Bool { computed < promptCount }

    /// Where the piece of tokens starting at `position` ends. A sequence's tokens run in
    /// fixed pieces whatever else shares the pass: the prompt in `piece`-token pieces
    /// counted from its start (llama.cpp's ubatches), each later token alone (a decode).
    /// Rows take the arithmetic of their piece (GemmRowPlan, attention.c), so fixed pieces
    /// keep a sequence's output independent of the batch, of chunked prefill and of
    /// recomputation after preemption.
    func pieceEnd(after position: Int, piece: Int) -> Int {
        position < promptCount ? min((position / piece + 1) * piece, promptCount) : position + 1
    }
}

/// A submitted request: its completions, where its events go, and its token counts.
final class RequestState {
    let id: Int
    let request: GenerationRequest
    let continuation: AsyncThrowingStream<EngineEvent, Error>.Continuation
    var sequences: [EngineSequence] = []
    var unfinished: Int
    var completionTokens = 0
    /// Proposals from the request's prediction that were accepted, and that were not.
    var acceptedPredictionTokens = 0
    var rejectedPredictionTokens = 0
    /// Engine clock (ns) at submit, for time to first token.
    let arrival: UInt64
    var sawFirstToken = false
    /// Which install of the request's LoRA slot it was submitted to (0 for the base model).
    let adapterGeneration: UInt64

    init(id: Int, request: GenerationRequest, continuation: AsyncThrowingStream<EngineEvent, Error>.Continuation, arrival: UInt64,
         adapterGeneration: UInt64 = 0) {
        self.id = id
        self.adapterGeneration = adapterGeneration
        self.request = request
        self.continuation = continuation
        self.arrival = arrival
        unfinished = request.n
    }

    /// Rejected prediction tokens count as completion tokens, as OpenAI bills them.
    var usage: Usage {
        Usage(promptTokens: request.prompt.count, completionTokens: completionTokens + rejectedPredictionTokens,
              cachedPromptTokens: sequences.first?.cachedPromptTokens ?? 0,
              acceptedPredictionTokens: acceptedPredictionTokens, rejectedPredictionTokens: rejectedPredictionTokens)
    }
}

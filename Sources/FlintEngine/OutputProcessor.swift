import FlintGrammar
import FlintTokenizers

/// What a completion has produced so far, as its client sees it: the sampler and logit
/// processors with the token history they read, the detokenizer, the stop-string matcher
/// and where the output stands in the request's grammar. Kept per sequence, so a preempted
/// sequence resumes exactly where it stopped.
final class SequenceOutput {
    var sampler: Sampler
    let processors: [any LogitProcessor]
    var history: TokenHistory
    var detokenizer: StreamingDetokenizer
    var stopMatcher: StopStringMatcher
    /// Where the output stands in the request's grammar, if it has one.
    var grammar: GrammarMatcher?
    /// False until the request's grammar trigger shows in the output.
    var grammarActive: Bool
    /// The output's bytes while a lazy grammar waits for its trigger.
    var untriggeredOutput: [UInt8] = []

    init(_ r: GenerationRequest, index: Int, tokenizer: Tokenizer) {
        var sampling = r.sampling
        // Each of n completions draws its own random numbers, reproducibly for a seed.
        if let seed = sampling.seed { sampling.seed = seed &+ UInt64(index) }
        sampler = Sampler(sampling)
        processors = sampling.processors
        history = TokenHistory(prompt: r.prompt)
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecial: r.skipSpecialTokens)
        stopMatcher = StopStringMatcher(r.stop)
        grammar = r.grammar.map(GrammarMatcher.init(grammar:))
        grammarActive = r.grammarTrigger == nil
    }
}

/// The engine step's last stage: for each sequence that reached the end of its tokens,
/// its next token from its row of logits (logit processors, grammar mask, sampler), then
/// what follows from it: the grammar's advance (or a lazy grammar's trigger), logprobs,
/// the released text (detokenized, stop strings held back) and the finish reason.
/// Runs on the engine's loop thread only.
final class OutputProcessor {
    private let tokenizer: Tokenizer
    private let endOfGeneration: Set<Int32>
    private let maxModelLength: Int
    /// Logits after the request's processors and grammar mask (one row at a time).
    private let processed: UnsafeMutableBufferPointer<Float>
    /// The vocabulary as a byte trie for grammar masks, built on first use.
    private lazy var trie = VocabularyTrie(tokenizer: tokenizer)

    init(tokenizer: Tokenizer, vocabularySize: Int, maxModelLength: Int) {
        self.tokenizer = tokenizer
        endOfGeneration = tokenizer.endOfGenerationIDs
        self.maxModelLength = maxModelLength
        processed = .allocate(capacity: vocabularySize)
    }

    deinit { processed.deallocate() }

    /// Samples `s`'s next token from `logits`, appends it to the sequence, and returns the
    /// event for the client with the finish reason (nil while the completion goes on).
    func process(_ s: EngineSequence, logits: UnsafeBufferPointer<Float>) -> EngineEvent {
        let out = s.output
        let req = s.request.request
        var input = logits
        let grammar = out.grammarActive ? out.grammar : nil
        if !out.processors.isEmpty || grammar != nil {
            _ = processed.initialize(from: logits)
            for p in out.processors { p.process(processed, history: out.history) }
            if let g = grammar { g.mask(for: trie).apply(to: processed) }
            input = UnsafeBufferPointer(processed)
        }
        let token = out.sampler.sample(input)
        let isEnd = (!req.ignoreEOS && endOfGeneration.contains(token)) || req.stopTokenIDs.contains(token)
        // The grammar follows every token but the end; when it can go no further (or, with
        // nothing allowed, rejects the token) the completion is over.
        var grammarDone = false
        if !isEnd, var g = grammar {
            grammarDone = !g.acceptToken(token, in: trie) || !g.canContinue
            out.grammar = g
        } else if !isEnd && !out.grammarActive, let trigger = req.grammarTrigger, let g = out.grammar {
            grammarDone = startGrammar(out, g, trigger: trigger, token: token)
        }
        let logprob = req.logprobs.map { TokenLogprob(logits: logits, token: token, top: $0) }
        s.tokens.append(token)
        out.history.append(token)

        var text: String
        var reason: FinishReason?
        if isEnd {
            text = finalText(out)
            reason = .stop
        } else {
            let (released, stopped) = out.stopMatcher.append(out.detokenizer.append(token))
            text = released
            if stopped {
                reason = .stop
            } else if grammarDone {
                text += finalText(out)
                reason = .stop
            } else if s.generatedCount >= req.maxTokens || s.tokens.count >= maxModelLength {
                text += finalText(out)
                reason = .length
            }
        }
        return EngineEvent(index: s.index, tokenIDs: [token], text: text, logprobs: logprob.map { [$0] } ?? [],
                           finishReason: reason, usage: nil)
    }

    /// Cuts `s.proposals` where no verification could get past them: at a token the active
    /// grammar rejects, and after one that ends the completion (an end of generation, a
    /// stop token, or the token that completes the grammar).
    func trimProposals(_ s: EngineSequence) {
        let req = s.request.request
        var grammar = s.output.grammarActive ? s.output.grammar : nil
        for (i, token) in s.proposals.enumerated() {
            var keep = -1
            if (!req.ignoreEOS && endOfGeneration.contains(token)) || req.stopTokenIDs.contains(token) {
                keep = i + 1
            } else if grammar != nil {
                if !grammar!.acceptToken(token, in: trie) {
                    keep = i
                } else if !grammar!.canContinue {
                    keep = i + 1
                }
            }
            if keep >= 0 {
                s.proposals.removeLast(s.proposals.count - keep)
                return
            }
        }
    }

    /// Looks for a lazy grammar's trigger in the output so far; once found, the output from
    /// there must follow the grammar. Output the grammar rejects leaves the request
    /// unconstrained. Returns whether the grammar is already complete.
    private func startGrammar(_ out: SequenceOutput, _ grammar: GrammarMatcher, trigger: GrammarTrigger, token: Int32) -> Bool {
        let searched = out.untriggeredOutput.count
        out.untriggeredOutput += tokenizer.tokenBytes(token)
        guard let start = trigger.match(in: out.untriggeredOutput, newFrom: searched) else { return false }
        var g = grammar
        let ok = g.accept(bytes: out.untriggeredOutput[start...])
        out.untriggeredOutput = []
        out.grammar = ok ? g : nil
        out.grammarActive = ok
        return ok && !g.canContinue
    }

    /// Text still held by the detokenizer and the stop matcher, at the end of a completion.
    private func finalText(_ out: SequenceOutput) -> String {
        let (released, stopped) = out.stopMatcher.append(out.detokenizer.flush())
        return stopped ? released : released + out.stopMatcher.flush()
    }
}

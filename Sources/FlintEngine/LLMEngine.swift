import Dispatch
import FlintLoading
import FlintModels
import FlintTensor
import FlintTokenizers
import Foundation

/// A snapshot of the engine's state, published after every step.
public struct EngineStats: Sendable, Equatable {
    public var activeRequests = 0
    public var runningSequences = 0
    public var waitingSequences = 0
    public var usedBlocks = 0
    public var cachedBlocks = 0
    public var totalBlocks = 0
    public var preemptions = 0
    public var prefixQueryTokens = 0
    public var prefixHitTokens = 0
    public var steps = 0
    /// Generated tokens per LoRA slot of the requests finished since the engine started (slot 0 = base model).
    public var generatedTokensPerSlot: [Int32: Int] = [:]
    /// Slots with an adapter installed.
    public var installedAdapters = 0
    /// Proposed tokens verified since the engine started, and how many were accepted.
    public var speculativeTokens = 0
    public var acceptedSpeculativeTokens = 0
}

/// The continuous-batching engine: requests come in through `submit`, and a step loop on
/// its own thread runs them together — each step schedules prompt chunks and decodes of
/// many sequences into one forward pass, samples the next token of every sequence that
/// reached the end of its tokens, and streams the results back.
///
/// Everything but the inbox (new requests, cancellations) and the published stats is
/// owned by the loop thread, so the step itself takes no locks.
public final class LLMEngine: @unchecked Sendable {
    public let tokenizer: Tokenizer
    public let configuration: EngineConfiguration
    /// Longest prompt + output a request may ask for.
    public let maxModelLength: Int
    public let blockCount: Int

    private let executor: any ModelExecutor
    /// The draft model's runner (its own KV pool, addressed by the same block ids), when
    /// the engine speculates with one.
    private let draft: ModelRunner?
    /// What sequences without a prediction speculate with (`.draft` only with a draft model).
    private let speculation: EngineConfiguration.Speculation
    /// The model's configuration when the executor is a `ModelRunner`, to check adapters.
    private let modelConfig: ModelConfig?
    private let scheduler: Scheduler
    private let metrics = EngineMetrics()
    private let outputs: OutputProcessor
    private let vocabularySize: Int

    // Shared with submitting threads, guarded by `condition`.
    private let condition = NSCondition()
    private var inbox: [RequestState] = []
    private var cancellations: [Int] = []
    private var published = EngineStats()
    private var publishedStepCost = StepCost.linear(base: 1, perRow: 0)
    private var nextRequestID = 0
    private var acceptsWork = true
    private var drainDeadline: UInt64?
    /// Installs (weights) and removals (nil) not yet applied by the loop, in call order.
    private var adapterChanges: [(slot: Int32, weights: LoRAAdapterWeights?, generation: UInt64)] = []
    /// The generation of the adapter in each slot as of the latest install/remove call;
    /// every install gets a new one, so prefix-cache keys tell two adapters of one slot apart.
    private var installedGenerations: [Int32: UInt64] = [:]
    private var nextAdapterGeneration: UInt64 = 1
    private let exited = DispatchSemaphore(value: 0)
    /// Signalled once the warm-up pass and the pass-cost measurement are done.
    private let warmedUp = DispatchSemaphore(value: 0)

    // Owned by the loop thread.
    private var active: [Int: RequestState] = [:]
    private var chunks: [ScheduledChunk] = []
    private var batch = ForwardBatch()
    private var steps = 0
    private var adapterGenerations: [Int32: UInt64] = [:]
    private var tokensPerSlot: [Int32: Int] = [:]
    /// Measured at warm-up (`calibrate`).
    private var planner: SpeculationPlanner
    /// This step's sequences with proposals (scratch, kept between steps).
    private var candidates: [EngineSequence] = []
    /// The draft model's pass, and the sequences it still proposes for (scratch).
    private var draftBatch = ForwardBatch()
    private var drafting: [EngineSequence] = []
    /// This step runs prompt pieces through the draft too (SpeculationPlanner.draftingCanPay).
    private var mirrorsPrompts = false
    private var speculativeTokens = 0
    private var acceptedSpeculativeTokens = 0

    /// An engine over `model` with a KV pool of `configuration.kvCacheBytes`, shared with
    /// `draft`'s cache when there is a draft model (same vocabulary: LoadedModel.draftMismatch).
    public convenience init(model: any CausalLM, tokenizer: Tokenizer, configuration: EngineConfiguration = .init(),
                            draft draftModel: (any CausalLM)? = nil) {
        let type = configuration.kvCacheType
        let perToken = KVCache.bytesPerToken(config: model.shape, type: type) + (draftModel.map { KVCache.bytesPerToken(config: $0.shape, type: type) } ?? 0)
        let bytes = configuration.kvCacheBytes ?? EngineConfiguration.defaultKVCacheBytes
        let blockCount = max(1, bytes / (perToken * configuration.blockSize))
        let runner = ModelRunner(model: model, blockSize: configuration.blockSize, blockCount: blockCount,
                                 threads: configuration.threads, kvCacheType: type)
        let draftRunner = draftModel.map {
            ModelRunner(model: $0, blockSize: configuration.blockSize, blockCount: blockCount, kvCacheType: type, context: runner.context)
        }
        self.init(executor: runner, tokenizer: tokenizer, blockCount: blockCount,
                  contextLength: model.config.contextLength, configuration: configuration, draft: draftRunner)
    }

    /// Context length at which a token's attention (QK and PV over that many keys) takes as
    /// long as its matrix products (the scheduler's prompt cost); 0 without a model.
    /// Attention's multiply-adds run in f32 at about a third of the rate of the quantized
    /// matrix products (SmolLM2, avx512vnni: pp448 1,200 tok/s at depth 0, 217 at depth
    /// 4,992, so a key costs ~2.7x its share of multiply-adds). Past a sliding window only
    /// the global layers (Gemma 3: every 6th) see more keys.
    static func attentionBreakEven(_ c: ModelConfig?) -> Int {
        guard let c else { return 0 }
        let q = c.headCount * c.headDim, kv = c.kvHeadCount * c.headDim
        let matmul = c.layerCount * (c.hiddenSize * (2 * q + 2 * kv) + 3 * c.hiddenSize * c.feedForwardSize)
        let layers = c.slidingWindow > 0 && c.slidingWindowPattern > 1 ? max(1, c.layerCount / c.slidingWindowPattern) : c.layerCount
        return max(1, matmul / max(1, 3 * layers * c.headCount * c.headDim * 2))
    }

    /// An engine over any executor (tests use a fake one); `blockCount` blocks of
    /// `configuration.blockSize` tokens must match the executor's KV pool.
    public init(executor: any ModelExecutor, tokenizer: Tokenizer, blockCount: Int, contextLength: Int,
                configuration: EngineConfiguration, draft: ModelRunner? = nil) {
        precondition(draft == nil || draft!.vocabularySize == executor.vocabularySize, "a draft model must share the vocabulary")
        self.executor = executor
        self.draft = draft
        speculation = configuration.speculation == .draft && draft == nil ? .none : configuration.speculation
        modelConfig = (executor as? ModelRunner)?.model.config
        self.tokenizer = tokenizer
        self.configuration = configuration
        self.blockCount = blockCount
        vocabularySize = executor.vocabularySize
        maxModelLength = min(configuration.maxModelLength ?? contextLength, contextLength, blockCount * configuration.blockSize)
        outputs = OutputProcessor(tokenizer: tokenizer, vocabularySize: executor.vocabularySize, maxModelLength: maxModelLength)
        scheduler = Scheduler(blocks: BlockManager(blockSize: configuration.blockSize, blockCount: blockCount),
                              maxRunning: configuration.maxRunningSequences,
                              maxBatchedTokens: configuration.maxBatchedTokens,
                              piece: configuration.promptPieceTokens, maxLoRAs: configuration.maxLorasPerBatch,
                              attentionBreakEven: Self.attentionBreakEven(modelConfig))
        planner = SpeculationPlanner(cost: .linear(base: 1, perRow: 0), draftCost: draft.map { _ in .linear(base: 1, perRow: 0) },
                                     attentionBreakEven: Self.attentionBreakEven(modelConfig), adaptive: configuration.adaptiveSpeculation)
        published.totalBlocks = blockCount
        metrics.blocksTotal.record(blockCount)
        let thread = Thread { [self] in loop() }
        thread.name = "flint-engine"
        thread.start()
        // Ready means measured: the first requests would otherwise wait behind the measurement.
        warmedUp.wait()
    }

    // MARK: submitting

    /// Queues a request. Events arrive on the returned stream until every completion has
    /// finished; stopping iteration (or cancelling the consuming task) cancels the request,
    /// and its KV blocks are released at the next step.
    public func submit(_ request: GenerationRequest) throws -> AsyncThrowingStream<EngineEvent, Error> {
        try validate(request)
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: EngineEvent.self)
        condition.lock()
        defer { condition.unlock() }
        guard acceptsWork else { throw EngineError.shuttingDown }
        let waiting = inbox.count + published.waitingSequences
        guard waiting < configuration.maxWaitingRequests else { throw EngineError.overloaded(waiting: waiting) }
        var generation: UInt64 = 0
        if request.loraSlot != 0 {
            guard let g = installedGenerations[request.loraSlot] else {
                throw EngineError.invalidParameter(name: "lora_slot", reason: "no LoRA adapter is installed in slot \(request.loraSlot)")
            }
            generation = g
        }
        let id = nextRequestID
        nextRequestID += 1
        inbox.append(RequestState(id: id, request: request, continuation: continuation, arrival: Self.now(),
                                  adapterGeneration: generation))
        continuation.onTermination = { [weak self] termination in
            if case .cancelled = termination { self?.cancel(id) }
        }
        metrics.waiting.record(waiting + 1)
        condition.signal()
        return stream
    }

    private func validate(_ r: GenerationRequest) throws(EngineError) {
        try r.validate(vocabularySize: vocabularySize)
        if r.prompt.count + r.maxTokens > maxModelLength {
            throw EngineError.tooLong(promptTokens: r.prompt.count, maxTokens: r.maxTokens, limit: maxModelLength)
        }
    }

    // MARK: adapters

    /// Slots run from 1 (0 is the base model) to this.
    public static let maxAdapterSlot: Int32 = 65535

    /// The instruction-set path the kernels run on (KernelPath).
    public static var kernelPath: String { KernelPath.current }

    /// Puts `weights` in `slot` (replacing what was there) from the next step on. Requests
    /// already submitted to the slot's previous adapter are ended with finish reason
    /// `error` rather than continued with other weights; their cached prefixes are never
    /// reused by the new adapter.
    public func installAdapter(_ weights: LoRAAdapterWeights, slot: Int32) throws {
        try checkSlot(slot)
        if let modelConfig, !weights.fits(modelConfig) {
            throw EngineError.invalidParameter(name: "adapter", reason: "it was converted for a different model than \(modelConfig.architecture) with \(modelConfig.layerCount) layers of width \(modelConfig.hiddenSize)")
        }
        condition.lock()
        defer { condition.unlock() }
        guard acceptsWork else { throw EngineError.shuttingDown }
        let generation = nextAdapterGeneration
        nextAdapterGeneration += 1
        installedGenerations[slot] = generation
        adapterChanges.append((slot, weights, generation))
        condition.signal()
    }

    /// Empties `slot` from the next step on; requests still using it end with finish
    /// reason `error`, and new ones are refused at submit. Returns whether it held one.
    @discardableResult
    public func removeAdapter(slot: Int32) throws -> Bool {
        try checkSlot(slot)
        condition.lock()
        defer { condition.unlock() }
        guard installedGenerations.removeValue(forKey: slot) != nil else { return false }
        adapterChanges.append((slot, nil, 0))
        condition.signal()
        return true
    }

    /// Whether `slot` has an adapter (as of the latest install/remove call).
    public func hasAdapter(slot: Int32) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return installedGenerations[slot] != nil
    }

    private func checkSlot(_ slot: Int32) throws {
        guard slot >= 1 && slot <= Self.maxAdapterSlot else {
            throw EngineError.invalidParameter(name: "lora_slot", reason: "must be between 1 and \(Self.maxAdapterSlot)")
        }
    }

    /// Applies install/remove calls (loop thread, between steps) and ends the requests whose
    /// adapter is no longer the one they were submitted to.
    private func apply(_ changes: [(slot: Int32, weights: LoRAAdapterWeights?, generation: UInt64)]) {
        for c in changes {
            batch.adapters[c.slot] = c.weights
            adapterGenerations[c.slot] = c.weights == nil ? nil : c.generation
        }
        for r in active.values where r.request.loraSlot != 0 && adapterGenerations[r.request.loraSlot] != r.adapterGeneration {
            end(r, .error)
        }
    }

    /// A request still in the inbox is dropped at once, so it stops counting against the
    /// queue limit; one the loop already holds is ended at its next step.
    private func cancel(_ id: Int) {
        condition.lock()
        if let i = inbox.firstIndex(where: { $0.id == id }) {
            let r = inbox.remove(at: i)
            condition.unlock()
            metrics.finished(.cancelled)
            r.continuation.finish()
            return
        }
        cancellations.append(id)
        condition.signal()
        condition.unlock()
    }

    /// The state after the latest step.
    public var stats: EngineStats {
        condition.lock()
        defer { condition.unlock() }
        return published
    }

    /// Stops accepting requests, lets those in flight finish for up to `gracePeriod`
    /// seconds, ends the rest with finish reason `error`, and stops the loop. Blocks until
    /// the loop has stopped; calling it again returns at once.
    public func shutdown(gracePeriod: Double = 30) {
        condition.lock()
        if acceptsWork {
            acceptsWork = false
            drainDeadline = Self.now() + UInt64(max(0, gracePeriod) * 1e9)
            condition.signal()
        }
        condition.unlock()
        exited.wait()
        exited.signal()
    }

    // MARK: the loop

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    private func loop() {
        warmUp()
        warmedUp.signal()
        while true {
            condition.lock()
            while inbox.isEmpty && cancellations.isEmpty && adapterChanges.isEmpty && !scheduler.hasWork && drainDeadline == nil {
                condition.wait()
            }
            let arrived = inbox
            inbox.removeAll()
            let changes = adapterChanges
            adapterChanges.removeAll()
            let cancelled = cancellations
            cancellations.removeAll()
            let deadline = drainDeadline
            condition.unlock()

            for r in arrived { start(r) }
            if !changes.isEmpty { apply(changes) }
            for id in cancelled { if let r = active[id] { end(r, .cancelled) } }
            if let deadline, !scheduler.hasWork || Self.now() >= deadline {
                for r in active.values { end(r, .error) }
                publish()
                break
            }
            if scheduler.hasWork { step() }
            publish()
        }
        exited.signal()
    }

    /// One throw-away pass before the first request, so the weights are paged in and the
    /// scratch buffers sized before anyone waits on them. It writes the keys and values of
    /// one token into block 0, which no sequence holds yet.
    private func warmUp() {
        batch.removeAll()
        batch.append(tokens: [0], startPosition: 0, blockTable: [0], blockSize: configuration.blockSize)
        _ = executor.execute(batch)
        // A stand-in executor's timings mean nothing: it keeps the nominal cost, rows for free.
        if executor is ModelRunner { calibrate() }
    }

    /// Times the target's (and the draft's) passes for the speculation planner: what a
    /// verified proposal's row costs is this machine's and this model's, and changes by an
    /// order of magnitude between them.
    private func calibrate() {
        planner = SpeculationPlanner(cost: measure(executor), draftCost: draft.map(measure),
                                     attentionBreakEven: planner.attentionBreakEven, adaptive: planner.adaptive)
    }

    /// Passes of 1 to 32 decode rows, the best of two each. All rows write block 0's first slot.
    private func measure(_ runner: any ModelExecutor) -> StepCost {
        var points: [(rows: Int, seconds: Double)] = []
        for rows in StepCost.measuredRows where rows <= configuration.maxBatchedTokens {
            batch.removeAll()
            for _ in 0..<rows { batch.append(tokens: [0], startPosition: 0, blockTable: [0], blockSize: configuration.blockSize) }
            var best = Double.infinity
            for _ in 0..<2 {
                let started = Self.now()
                _ = runner.execute(batch)
                best = min(best, Double(Self.now() - started) / 1e9)
            }
            points.append((rows, best))
        }
        return StepCost(points)
    }

    /// The measured cost of passes by rows (after warm-up).
    public var stepCost: StepCost {
        condition.lock()
        defer { condition.unlock() }
        return publishedStepCost
    }

    private func start(_ r: RequestState) {
        active[r.id] = r
        for i in 0..<r.request.n {
            let seq = EngineSequence(request: r, index: i, tokenizer: tokenizer, speculation: speculation)
            if i > 0 { seq.waitsFor = r.sequences[0] }
            r.sequences.append(seq)
            scheduler.add(seq)
        }
        metrics.promptTokens.increment(by: r.request.prompt.count)
    }

    /// One step: schedule this pass's pieces, run them in one forward pass, and turn the
    /// sampled rows into tokens and events.
    private func step() {
        let started = Self.now()
        let queried = scheduler.prefixQueryTokens, hits = scheduler.prefixHitTokens, preempted = scheduler.preemptions
        guard schedule() else { return }
        let logits = executor.execute(batch)
        scheduler.didRun(chunks)
        processOutputs(logits)
        steps += 1
        metrics.stepDuration.recordNanoseconds(Int64(Self.now() - started))
        metrics.batchTokens.record(batch.tokenCount)
        metrics.batchSequences.record(chunks.count)
        if scheduler.prefixQueryTokens > queried { metrics.prefixQueries.increment(by: scheduler.prefixQueryTokens - queried) }
        if scheduler.prefixHitTokens > hits { metrics.prefixHits.increment(by: scheduler.prefixHitTokens - hits) }
        if scheduler.preemptions > preempted { metrics.preemptions.increment(by: scheduler.preemptions - preempted) }
    }

    /// Picks this step's chunks and lays them out in `batch`; false when nothing can run.
    private func schedule() -> Bool {
        scheduler.schedule(into: &chunks)
        guard !chunks.isEmpty else {
            // Nothing fits although nothing runs: cannot happen for validated requests, but a
            // stuck queue must fail loudly rather than spin.
            if scheduler.running.isEmpty, let head = scheduler.waiting.first { end(head.request, .error) }
            return false
        }
        speculate()
        let bs = configuration.blockSize
        batch.removeAll()
        for c in chunks {
            let s = c.sequence
            if s.granted > 0 {
                // The last token and each proposal as a decode row of its own, so that each
                // row's logits are bit for bit what decoding that token would give: an
                // accepted token is the one decoding would have sampled.
                let slot = s.request.request.loraSlot
                batch.append(tokens: s.tokens[s.computed...], startPosition: s.computed, blockTable: s.blockTable, blockSize: bs,
                             loraSlot: slot)
                for i in 0..<s.granted {
                    batch.append(tokens: s.proposals[i...i], startPosition: s.computed + 1 + i, blockTable: s.blockTable, blockSize: bs,
                                 loraSlot: slot)
                }
                continue
            }
            // One batch entry per piece: each piece rounds as it would in a pass of its own.
            let end = s.computed + c.count
            var start = s.computed
            while start < end {
                let pieceEnd = s.pieceEnd(after: start, piece: scheduler.piece)
                batch.append(tokens: s.tokens[start..<pieceEnd], startPosition: start, blockTable: s.blockTable, blockSize: bs,
                             loraSlot: s.request.request.loraSlot, wantLogits: c.samples && pieceEnd == end)
                start = pieceEnd
            }
        }
        return true
    }

    /// Proposes tokens for the step's decodes (the request's prediction, prompt lookup or
    /// the draft model), lets the planner decide how many of each to verify, and reserves
    /// their KV slots. Proposals are cut where the request's grammar would reject them, and
    /// to what `max_tokens` leaves after the token the step samples anyway.
    private func speculate() {
        candidates.removeAll(keepingCapacity: true)
        var rows = 0, sampling = 0, mirrored = 0
        for c in chunks {
            rows += c.count
            if c.samples { sampling += 1 }
        }
        // Running sequences decode soon: a prompt mirrored now is drafted from only if they leave room.
        mirrorsPrompts = draft != nil && planner.draftingCanPay(decodes: max(sampling, scheduler.running.count))
        for c in chunks {
            let s = c.sequence
            if mirrorsPrompts && s.drafts && s.isPrefilling { mirrored += s.computed + c.count - min(s.draftComputed, s.computed) }
            guard c.samples && c.count == 1 && !s.isPrefilling else { continue }
            let limit = max(0, min(configuration.numSpeculativeTokens, s.request.request.maxTokens - s.generatedCount - 1))
            if s.lookup != nil {
                s.lookup!.propose(after: s.tokens, limit: limit, into: &s.proposals)
                outputs.trimProposals(s)
                s.proposalLimit = s.proposals.count
            } else if s.drafts {
                s.proposals.removeAll(keepingCapacity: true)
                s.proposalLimit = limit
            } else {
                continue
            }
            if s.proposalLimit == 0 { continue }
            s.nextProposalWorth = s.acceptance.rate
            candidates.append(s)
        }
        if !candidates.isEmpty {
            planner.plan(candidates, rows: rows, outputs: sampling, rowsLeft: configuration.maxBatchedTokens - rows, mirroredRows: mirrored)
            for s in candidates {
                if s.granted == 0 {
                    s.acceptance.forget()
                    continue
                }
                let room = scheduler.reserve(s, tokens: s.computed + 1 + s.granted)
                s.granted = max(0, min(s.granted, room - s.computed - 1))
            }
        }
        if let draft { runDraft(draft) }
    }

    /// Runs the draft model: one pass over what each of its sequences in this step has not
    /// shown it yet (a prompt piece the target runs now, or the tokens a drafting sequence
    /// took since it last drafted), whose last rows give the first proposals; then a pass
    /// per further proposal, over the sequences that want one more. A proposal is the
    /// draft's greedy choice: a point mass, so verification is plain sampling (see
    /// processOutputs). Prompts are mirrored as they run while drafting can pay, so a
    /// sequence can draft from its first decode on; a decode that does not draft leaves the
    /// draft behind until it does (the planner counts the rows it then has to catch up).
    private func runDraft(_ draft: ModelRunner) {
        let bs = configuration.blockSize
        draftBatch.removeAll()
        drafting.removeAll(keepingCapacity: true)
        for c in chunks where c.sequence.drafts {
            let s = c.sequence
            s.draftComputed = min(s.draftComputed, s.computed)
            let proposes = s.granted > 0 && !s.isPrefilling
            let end = proposes ? s.tokens.count : s.isPrefilling && mirrorsPrompts ? s.computed + c.count : s.draftComputed
            guard end > s.draftComputed else { continue }
            draftBatch.append(tokens: s.tokens[s.draftComputed..<end], startPosition: s.draftComputed, blockTable: s.blockTable,
                              blockSize: bs, wantLogits: proposes)
            s.draftComputed = end
            if proposes { drafting.append(s) }
        }
        guard draftBatch.tokenCount > 0 else { return }
        var logits = draft.execute(draftBatch)
        let vocab = vocabularySize
        while !drafting.isEmpty {
            for (i, s) in drafting.enumerated() {
                s.proposals.append(Sampler.argmax(UnsafeBufferPointer(rebasing: logits[(i * vocab)..<((i + 1) * vocab)])))
            }
            drafting.removeAll { $0.proposals.count >= $0.granted }
            if drafting.isEmpty { break }
            draftBatch.removeAll()
            for s in drafting {
                let j = s.proposals.count
                draftBatch.append(tokens: s.proposals[(j - 1)...], startPosition: s.computed + j, blockTable: s.blockTable, blockSize: bs)
                s.draftComputed += 1
            }
            logits = draft.execute(draftBatch)
        }
        for s in candidates where s.drafts && s.granted > 0 {
            outputs.trimProposals(s)
            s.granted = min(s.granted, s.proposals.count)
        }
    }

    /// The next token of every chunk that sampled (and of each of its verified proposals
    /// that matched the token before it), its event to the client, and the end of the
    /// completions that finished.
    private func processOutputs(_ logits: UnsafeBufferPointer<Float>) {
        let now = Self.now()
        let vocab = vocabularySize
        var row = 0
        for c in chunks where c.samples {
            let s = c.sequence
            func rowLogits(_ i: Int) -> UnsafeBufferPointer<Float> { UnsafeBufferPointer(rebasing: logits[(i * vocab)..<((i + 1) * vocab)]) }
            var event = outputs.process(s, logits: rowLogits(row))
            let k = s.granted
            var accepted = 0
            // Row i's logits follow proposal i - 1, so they are the next token's only while
            // every token sampled so far matched its proposal.
            while accepted < k && event.finishReason == nil && s.tokens.last == s.proposals[accepted] {
                accepted += 1
                event.append(outputs.process(s, logits: rowLogits(row + accepted)))
            }
            row += k + 1
            let r = s.request
            if k > 0 { verified(s, accepted: accepted) }
            r.completionTokens += event.tokenIDs.count
            metrics.generatedTokens.increment(by: event.tokenIDs.count)
            if !r.sawFirstToken {
                r.sawFirstToken = true
                metrics.timeToFirstToken.recordNanoseconds(Int64(now - r.arrival))
            } else if s.lastTokenTime > 0 {
                metrics.interTokenLatency.recordNanoseconds(Int64(now - s.lastTokenTime))
            }
            s.lastTokenTime = now
            if let reason = event.finishReason {
                scheduler.remove(s)
                metrics.finished(reason)
                r.unfinished -= 1
                if r.unfinished == 0 {
                    event.usage = r.usage
                    r.continuation.yield(event)
                    r.continuation.finish()
                    retire(r)
                    continue
                }
            }
            r.continuation.yield(event)
        }
    }

    /// Books the outcome of `s`'s verified proposals: accepted ones are in the KV cache (and
    /// their full blocks in the prefix cache); the slots of rejected ones are given back.
    private func verified(_ s: EngineSequence, accepted: Int) {
        let k = s.granted
        // A proposal matching the token that ended the completion was taken too.
        let taken = accepted < k && s.tokens.last == s.proposals[accepted] ? accepted + 1 : accepted
        scheduler.advance(s, by: accepted)
        s.acceptance.record(accepted: taken, of: k)
        s.granted = 0
        speculativeTokens += k
        acceptedSpeculativeTokens += taken
        let source: EngineMetrics.Proposer
        if case .prediction = s.lookup?.reference {
            source = .prediction
            s.request.acceptedPredictionTokens += taken
            s.request.rejectedPredictionTokens += k - taken
        } else {
            source = s.drafts ? .draft : .ngram
        }
        metrics.speculated(source, proposed: k, accepted: taken)
    }

    /// Ends every unfinished completion of `r` with `reason` (cancellation, shutdown, failure).
    private func end(_ r: RequestState, _ reason: FinishReason) {
        for s in r.sequences where !s.finished {
            scheduler.remove(s)
            metrics.finished(reason)
            r.unfinished -= 1
            r.continuation.yield(EngineEvent(index: s.index, tokenIDs: [], text: "", logprobs: [], finishReason: reason,
                                             usage: r.unfinished == 0 ? r.usage : nil))
        }
        r.continuation.finish()
        retire(r)
    }

    /// Forgets a finished request; its tokens count for its adapter slot once, here rather
    /// than per token.
    private func retire(_ r: RequestState) {
        tokensPerSlot[r.request.loraSlot, default: 0] += r.completionTokens
        active[r.id] = nil
    }

    private func publish() {
        let blocks = scheduler.blocks
        var s = EngineStats()
        s.activeRequests = active.count
        s.runningSequences = scheduler.running.count
        s.waitingSequences = scheduler.waiting.count
        s.usedBlocks = blocks.usedCount
        s.cachedBlocks = blocks.cachedCount
        s.totalBlocks = blocks.blockCount
        s.preemptions = scheduler.preemptions
        s.prefixQueryTokens = scheduler.prefixQueryTokens
        s.prefixHitTokens = scheduler.prefixHitTokens
        s.steps = steps
        s.generatedTokensPerSlot = tokensPerSlot
        s.installedAdapters = adapterGenerations.count
        s.speculativeTokens = speculativeTokens
        s.acceptedSpeculativeTokens = acceptedSpeculativeTokens
        metrics.running.record(s.runningSequences)
        metrics.blocksUsed.record(s.usedBlocks)
        metrics.blocksCached.record(s.cachedBlocks)
        condition.lock()
        published = s
        publishedStepCost = planner.cost
        metrics.waiting.record(s.waitingSequences + inbox.count)
        condition.unlock()
    }
}

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

    // Owned by the loop thread.
    private var active: [Int: RequestState] = [:]
    private var chunks: [ScheduledChunk] = []
    private var batch = ForwardBatch()
    private var steps = 0
    private var adapterGenerations: [Int32: UInt64] = [:]
    private var tokensPerSlot: [Int32: Int] = [:]

    /// An engine over `model` with a KV pool of `configuration.kvCacheBytes`.
    public convenience init(model: any CausalLM, tokenizer: Tokenizer, configuration: EngineConfiguration = .init()) {
        let bytesPerBlock = KVCache.bytesPerToken(config: model.shape, type: configuration.kvCacheType) * configuration.blockSize
        let bytes = configuration.kvCacheBytes ?? EngineConfiguration.defaultKVCacheBytes
        let blockCount = max(1, bytes / bytesPerBlock)
        let runner = ModelRunner(model: model, blockSize: configuration.blockSize, blockCount: blockCount,
                                 threads: configuration.threads, kvCacheType: configuration.kvCacheType)
        self.init(executor: runner, tokenizer: tokenizer, blockCount: blockCount,
                  contextLength: model.config.contextLength, configuration: configuration)
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
                configuration: EngineConfiguration) {
        self.executor = executor
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
        published.totalBlocks = blockCount
        metrics.blocksTotal.record(blockCount)
        let thread = Thread { [self] in loop() }
        thread.name = "flint-engine"
        thread.start()
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
    }

    private func start(_ r: RequestState) {
        active[r.id] = r
        for i in 0..<r.request.n {
            let seq = EngineSequence(request: r, index: i, tokenizer: tokenizer)
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
        let bs = configuration.blockSize
        batch.removeAll()
        for c in chunks {
            // One batch entry per piece: each piece rounds as it would in a pass of its own.
            let s = c.sequence, end = s.computed + c.count
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

    /// The next token of every chunk that sampled, its event to the client, and the end of
    /// the completions that finished.
    private func processOutputs(_ logits: UnsafeBufferPointer<Float>) {
        let now = Self.now()
        let vocab = vocabularySize
        var row = 0
        for c in chunks where c.samples {
            let s = c.sequence
            var event = outputs.process(s, logits: UnsafeBufferPointer(rebasing: logits[(row * vocab)..<((row + 1) * vocab)]))
            row += 1
            let r = s.request
            r.completionTokens += 1
            metrics.generatedTokens.increment()
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
        metrics.running.record(s.runningSequences)
        metrics.blocksUsed.record(s.usedBlocks)
        metrics.blocksCached.record(s.cachedBlocks)
        condition.lock()
        published = s
        metrics.waiting.record(s.waitingSequences + inbox.count)
        condition.unlock()
    }
}

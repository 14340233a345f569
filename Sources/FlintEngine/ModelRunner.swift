import FlintModels

/// What the engine needs from a model: one forward pass over a batch, returning the
/// logits of the batch's `logitRows`. A protocol so scheduler tests can run without weights.
public protocol ModelExecutor: AnyObject {
    var vocabularySize: Int { get }
    func execute(_ batch: ForwardBatch) -> UnsafeBufferPointer<Float>
}

/// Runs a `CausalLM` over the engine's paged KV pool.
public final class ModelRunner: ModelExecutor {
    public let model: any CausalLM
    public let cache: KVCache
    public let context: ForwardContext

    public convenience init(model: any CausalLM, blockSize: Int, blockCount: Int, threads: Int, kvCacheType: KVCacheType = .f16) {
        self.init(model: model, blockSize: blockSize, blockCount: blockCount, kvCacheType: kvCacheType, context: ForwardContext(threads: threads))
    }

    /// A runner sharing `context` (its threads and scratch) with another that never runs at
    /// the same time: a draft model beside its target, whose pool's threads would otherwise
    /// spin against the target's.
    public init(model: any CausalLM, blockSize: Int, blockCount: Int, kvCacheType: KVCacheType, context: ForwardContext) {
        self.model = model
        cache = KVCache(shape: model.shape, blockSize: blockSize, blockCount: blockCount, type: kvCacheType)
        self.context = context
    }

    public var vocabularySize: Int { model.config.vocabularySize }

    public func execute(_ batch: ForwardBatch) -> UnsafeBufferPointer<Float> {
        model.forward(batch, cache: cache, context: context)
    }
}

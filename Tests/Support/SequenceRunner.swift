import FlintEngine
import FlintModels

/// Runs one sequence through a model, pass by pass, with no engine around it: what the
/// reference tests compare against llama.cpp (whose `llama_decode` on a fresh context is
/// the same thing). The KV cache is paged like the engine's, the sequence owning every block.
public final class SequenceRunner {
    public let model: any CausalLM
    private let context: ForwardContext
    private let cache: KVCache
    private let blockTable: [Int32]
    private var batch = ForwardBatch()
    private static let blockSize = 16
    /// Prompt tokens per forward pass, as the engine's prefill pieces.
    private static let piece = 512

    public init(model: any CausalLM, threads: Int, contextTokens: Int, kvCacheType: KVCacheType = .f16) {
        self.model = model
        context = ForwardContext(threads: threads)
        let blocks = (contextTokens + Self.blockSize - 1) / Self.blockSize
        cache = KVCache(shape: model.shape, blockSize: Self.blockSize, blockCount: blocks, type: kvCacheType)
        blockTable = (0..<blocks).map { Int32($0) }
    }

    /// Feeds `tokens` starting at `position` (keys and values before it stay as they are);
    /// returns the logits after the last one, valid until the next call.
    public func feed(_ tokens: [Int32], at position: Int) -> UnsafeBufferPointer<Float> {
        var logits = UnsafeBufferPointer<Float>(start: nil, count: 0)
        var start = 0
        while start < tokens.count {
            let end = min(tokens.count, start + Self.piece)
            batch.removeAll()
            batch.append(tokens: tokens[start..<end], startPosition: position + start, blockTable: blockTable,
                         blockSize: Self.blockSize, wantLogits: end == tokens.count)
            logits = model.forward(batch, cache: cache, context: context)
            start = end
        }
        return logits
    }

    /// Feeds `tokens` (at most one prompt piece) from position 0 and returns every row's logits.
    public func allLogits(_ tokens: [Int32]) -> [[Float]] {
        precondition(tokens.count <= Self.piece)
        batch.removeAll()
        batch.append(tokens: tokens, startPosition: 0, blockTable: blockTable, blockSize: Self.blockSize, allLogits: true)
        let logits = model.forward(batch, cache: cache, context: context)
        let vocabulary = model.config.vocabularySize
        return (0..<tokens.count).map { Array(logits[($0 * vocabulary)..<(($0 + 1) * vocabulary)]) }
    }

    /// `count` greedy tokens after `prompt`, computed from position 0.
    public func greedy(prompt: [Int32], count: Int) -> [Int32] {
        var out: [Int32] = []
        var logits = feed(prompt, at: 0)
        while out.count < count {
            let next = Sampler.argmax(logits)
            out.append(next)
            if out.count < count { logits = feed([next], at: prompt.count + out.count - 1) }
        }
        return out
    }

}

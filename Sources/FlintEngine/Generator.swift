import FlintModels
import FlintTensor

/// Runs one sequence at a time through a model: chunked prefill of the prompt, then
/// token-by-token decoding with the request's logit processors and sampler. The KV
/// cache is paged like the batching engine's, with the sequence owning every block.
public final class Generator: @unchecked Sendable {
    public let model: any CausalLM
    public let context: ForwardContext
    public let cache: KVCache
    public let maxTokens: Int
    public static let blockSize = 16
    /// Prompt tokens per forward pass during prefill.
    public var prefillChunk = 512
    private let blockTable: [Int32]
    private var batch = ForwardBatch()
    /// Tokens whose keys/values are in the cache, position by position; a new prompt
    /// that starts with them only computes the rest (multi-turn chat reuses its history).
    public private(set) var cachedTokens: [Int32] = []

    public enum Failure: Error, CustomStringConvertible {
        case contextExceeded(prompt: Int, maxTokens: Int, limit: Int)
        case emptyPrompt
        public var description: String {
            switch self {
            case .contextExceeded(let p, let m, let l):
                return "prompt of \(p) tokens plus \(m) new tokens exceeds the context of \(l) tokens"
            case .emptyPrompt: return "the prompt is empty"
            }
        }
    }

    /// - contextTokens: KV capacity (defaults to the model's context length, capped at 4096).
    public init(model: any CausalLM, threads: Int, contextTokens: Int? = nil) {
        self.model = model
        context = ForwardContext(threads: threads)
        let tokens = min(model.config.contextLength, contextTokens ?? 4096)
        let blocks = (tokens + Self.blockSize - 1) / Self.blockSize
        cache = KVCache(shape: model.shape, blockSize: Self.blockSize, blockCount: blocks)
        maxTokens = blocks * Self.blockSize
        blockTable = (0..<blocks).map { Int32($0) }
    }

    /// Forgets the cached tokens: the next `generate` computes its whole prompt in one pass,
    /// as a fresh llama.cpp context does (a reused prefix leaves the last prompt token to be
    /// computed alone, with the one-row arithmetic).
    public func reset() {
        cachedTokens.removeAll(keepingCapacity: true)
    }

    /// Feeds `tokens` starting at `position`; returns the logits after the last one.
    public func feed(_ tokens: [Int32], at position: Int) -> UnsafeBufferPointer<Float> {
        cachedTokens.removeSubrange(min(position, cachedTokens.count)...)
        cachedTokens.append(contentsOf: tokens)
        var logits = UnsafeBufferPointer<Float>(start: nil, count: 0)
        var start = 0
        while start < tokens.count {
            let end = min(tokens.count, start + prefillChunk)
            batch.removeAll()
            batch.append(tokens: Array(tokens[start..<end]), startPosition: position + start,
                         blockTable: blockTable, blockSize: Self.blockSize, wantLogits: end == tokens.count)
            logits = model.forward(batch, cache: cache, context: context)
            start = end
        }
        return logits
    }

    /// Generates up to `maxNewTokens` after `prompt`. `onToken` sees each new token
    /// and returns false to stop early. Generation also stops after a token in `stopTokens`
    /// (which is included in the result).
    @discardableResult
    public func generate(prompt: [Int32], maxNewTokens: Int, sampling: SamplingParameters,
                         stopTokens: Set<Int32>, onToken: (Int32) -> Bool = { _ in true }) throws -> [Int32] {
        guard !prompt.isEmpty else { throw Failure.emptyPrompt }
        guard prompt.count + maxNewTokens <= maxTokens else {
            throw Failure.contextExceeded(prompt: prompt.count, maxTokens: maxNewTokens, limit: maxTokens)
        }
        var sampler = Sampler(sampling)
        let processors = sampling.processors
        var history = TokenHistory(prompt: prompt)
        var output: [Int32] = []
        output.reserveCapacity(maxNewTokens)
        let vocab = model.config.vocabularySize
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: vocab)
        defer { scratch.deallocate() }

        // Reuse the cached prefix; at least the last prompt token is recomputed for its logits.
        var reused = 0
        while reused < min(prompt.count - 1, cachedTokens.count) && cachedTokens[reused] == prompt[reused] { reused += 1 }
        var logits = feed(Array(prompt[reused...]), at: reused)
        var position = prompt.count
        while output.count < maxNewTokens {
            let next: Int32
            if processors.isEmpty {
                next = sampler.sample(logits)
            } else {
                _ = scratch.initialize(from: logits)
                for p in processors { p.process(scratch, history: history) }
                next = sampler.sample(UnsafeBufferPointer(scratch))
            }
            output.append(next)
            history.append(next)
            if stopTokens.contains(next) || !onToken(next) || output.count >= maxNewTokens { break }
            logits = feed([next], at: position)
            position += 1
        }
        return output
    }
}

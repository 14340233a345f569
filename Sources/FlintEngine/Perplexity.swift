import Foundation
import FlintModels

/// What `PerplexityEvaluator` measured.
public struct PerplexityReport: Sendable, Encodable {
    public var context: Int
    public var chunks: Int
    /// Tokens scored: (context - context / 2 - 1) per chunk.
    public var scoredTokens: Int
    public var perplexity: Double
    /// llama.cpp's uncertainty: perplexity × the standard error of the mean log-likelihood.
    public var error: Double
}

public enum PerplexityError: Error, CustomStringConvertible, Equatable {
    case textTooShort(tokens: Int, context: Int)
    case invalidContext(Int)

    public var description: String {
        switch self {
        case .textTooShort(let tokens, let context):
            return "the text tokenizes to \(tokens) tokens; a context of \(context) needs at least \(2 * context)"
        case .invalidContext(let context): return "the context must be an even number of tokens from 16 on, got \(context)"
        }
    }
}

/// Perplexity as llama.cpp's `llama-perplexity` computes it (its default mode, so the two can
/// be compared on the same text): the text's tokens (BOS as the vocabulary says) cut into
/// chunks of `context` tokens, each evaluated on an empty cache with its first token replaced
/// by BOS when the vocabulary adds one, in passes of 512 tokens (llama.cpp's ubatch); then
/// every token from position context/2 + 1 to the chunk's end is scored by the logits of the
/// position before it: log-softmax with the max subtracted, exp in float, the sum in double.
public final class PerplexityEvaluator {
    public let context: Int
    private let model: any CausalLM
    private let forward: ForwardContext
    private let cache: KVCache
    private let blockTable: [Int32]
    private var batch = ForwardBatch()
    private static let blockSize = 16
    private static let pass = 512

    public init(model: any CausalLM, threads: Int, context: Int, kvCacheType: KVCacheType = .f16) throws {
        guard context >= 16, context % 2 == 0 else { throw PerplexityError.invalidContext(context) }
        self.model = model
        self.context = context
        forward = ForwardContext(threads: threads)
        let blocks = (context + Self.blockSize - 1) / Self.blockSize
        cache = KVCache(shape: model.shape, blockSize: Self.blockSize, blockCount: blocks, type: kvCacheType)
        blockTable = (0..<blocks).map { Int32($0) }
    }

    /// Scores `tokens` (the tokenized text) over its first `chunks` chunks (all when nil);
    /// `progress(chunk, perplexity so far)` after each.
    public func evaluate(tokens: [Int32], bos: Int32?, chunks: Int? = nil,
                         progress: (Int, Double) -> Void = { _, _ in }) throws -> PerplexityReport {
        guard tokens.count >= 2 * context else { throw PerplexityError.textTooShort(tokens: tokens.count, context: context) }
        let chunkCount = min(chunks ?? Int.max, tokens.count / context)
        let vocabulary = model.config.vocabularySize
        let first = context / 2
        var nll = 0.0, nll2 = 0.0, count = 0
        for c in 0..<chunkCount {
            var chunk = Array(tokens[(c * context)..<((c + 1) * context)])
            if let bos { chunk[0] = bos }
            var start = 0
            while start < context {
                let end = min(context, start + Self.pass)
                batch.removeAll()
                batch.append(tokens: chunk[start..<end], startPosition: start, blockTable: blockTable,
                             blockSize: Self.blockSize, wantLogits: false)
                // Logits of the positions whose next token is scored: first ..< context - 1.
                let scored = max(start, first), scoredEnd = min(end, context - 1)
                batch.logitRows = scored < scoredEnd ? (scored..<scoredEnd).map { Int32($0 - start) } : []
                let logits = model.forward(batch, cache: cache, context: forward)
                for (i, row) in batch.logitRows.enumerated() {
                    let position = start + Int(row)
                    let logProb = Self.logSoftmax(logits.baseAddress! + i * vocabulary, count: vocabulary,
                                                  token: Int(chunk[position + 1]))
                    nll -= logProb
                    nll2 += logProb * logProb
                    count += 1
                }
                start = end
            }
            progress(c + 1, exp(nll / Double(count)))
        }
        let mean = nll / Double(count)
        let variance = nll2 / Double(count) - mean * mean
        let ppl = exp(mean)
        return PerplexityReport(context: context, chunks: chunkCount, scoredTokens: count, perplexity: ppl,
                                error: variance > 0 && count > 1 ? (variance / Double(count - 1)).squareRoot() * ppl : 0)
    }

    /// log p(token) under softmax(logits), as llama.cpp's perplexity tool computes it.
    static func logSoftmax(_ logits: UnsafePointer<Float>, count: Int, token: Int) -> Double {
        var maxLogit = logits[0]
        for i in 1..<count where logits[i] > maxLogit { maxLogit = logits[i] }
        var sum = 0.0
        for i in 0..<count { sum += Double(expf(logits[i] - maxLogit)) }
        return Double(logits[token] - maxLogit) - log(sum)
    }
}

import FlintModels
import Foundation

/// Limits and sizes of an `LLMEngine`.
public struct EngineConfiguration: Sendable {
    /// Worker threads of the forward pass.
    public var threads: Int
    /// Tokens per KV block.
    public var blockSize: Int = 16
    /// Bytes of KV cache (keys and values of every layer); nil picks a default from memory.
    public var kvCacheBytes: Int?
    /// How the KV cache stores keys and values (the model's head sizes must suit it:
    /// `KVCacheType.unsupportedReason`).
    public var kvCacheType: KVCacheType = .f16
    /// Most sequences in one forward pass.
    public var maxRunningSequences: Int = 64
    /// Most tokens in one forward pass (prompt chunks plus decodes).
    public var maxBatchedTokens: Int = 512
    /// Prompts run in pieces of this many tokens counted from their start, as llama.cpp
    /// runs them in ubatches (its n_ubatch): a row's rounding depends on its piece, so fixed
    /// pieces make a request's output independent of what shares its passes, and prompts up
    /// to this length are computed as llama.cpp computes them. A piece is also the least a
    /// prompt adds to a step with decodes in it (the scheduler's budget counts its attention
    /// too): 64 keeps that step short deep into a long prompt (a 512-token piece, llama.cpp's
    /// ubatch, stalled SmolLM2's decodes 2 s at 5,000 tokens; 128 still 0.6 s). Rounded down
    /// to a multiple of `blockSize` and capped at `maxBatchedTokens - maxRunningSequences`.
    public var promptPieceTokens: Int = 32
    /// Requests allowed to wait for a slot; beyond that, submit fails with `overloaded`.
    public var maxWaitingRequests: Int = 256
    /// Longest sequence (prompt + output); nil uses the model's context length.
    public var maxModelLength: Int?
    /// Most distinct LoRA adapters in one forward pass (vLLM's --max-loras). Each distinct
    /// adapter in a step costs one read of its A/B matrices; sequences of further adapters
    /// wait for a later step. The default of 32 lets 32 concurrent requests on 32
    /// different adapters decode together: with SmolLM2, 100 adapters and 32 clients, a
    /// limit of 8 left most requests queued (under a third of the limit-32 throughput).
    public var maxLorasPerBatch: Int = EngineConfiguration.defaultMaxLoras
    public static let defaultMaxLoras = 32
    /// Speculation for requests without a prediction: none, prompt lookup (proposals copied
    /// from where the latest tokens occurred earlier in the prompt or output), or a draft
    /// model's greedy continuation (the engine must be given one). Requests with a
    /// prediction always speculate from it.
    public var speculation: Speculation = .none
    /// Most proposed tokens a sequence verifies in one step (vLLM's num_speculative_tokens).
    public var numSpeculativeTokens: Int = 16
    /// Weigh each proposal's row against its chance of acceptance and the measured cost of
    /// rows (SpeculationPlanner); false verifies every proposal up to the limit, which
    /// tests and comparisons use.
    public var adaptiveSpeculation = true

    public enum Speculation: String, Sendable, CaseIterable {
        case none
        case ngram
        case draft
    }

    public init(threads: Int = ProcessInfo.processInfo.activeProcessorCount, kvCacheBytes: Int? = nil,
                maxRunningSequences: Int = 64, maxBatchedTokens: Int = 512, maxWaitingRequests: Int = 256,
                maxModelLength: Int? = nil, maxLorasPerBatch: Int = EngineConfiguration.defaultMaxLoras,
                promptPieceTokens: Int = 32, kvCacheType: KVCacheType = .f16) {
        self.kvCacheType = kvCacheType
        self.promptPieceTokens = promptPieceTokens
        self.maxLorasPerBatch = maxLorasPerBatch
        self.threads = threads
        self.kvCacheBytes = kvCacheBytes
        self.maxRunningSequences = maxRunningSequences
        self.maxBatchedTokens = maxBatchedTokens
        self.maxWaitingRequests = maxWaitingRequests
        self.maxModelLength = maxModelLength
    }

    /// 1 GiB, or a quarter of physical memory when that is less: room for tens of
    /// thousands of tokens on the catalog models without crowding a small machine.
    public static var defaultKVCacheBytes: Int {
        min(1 << 30, Int(ProcessInfo.processInfo.physicalMemory / 4))
    }
}

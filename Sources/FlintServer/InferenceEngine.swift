import FlintEngine
import FlintJinja
import FlintTokenizers
import Foundation

/// What the HTTP layer needs from a model behind it: names, limits, prompt encoding and
/// the engine's request stream. Controllers are generic over it.
public protocol InferenceEngine: Sendable {
    /// The name the model is served under (its catalog name).
    var modelName: String { get }
    /// Seconds since 1970 when the model was loaded (`created` in /v1/models).
    var created: Int { get }
    var maxModelLength: Int { get }
    var tokenizer: Tokenizer { get }
    /// The chat template's source (it tells how the model writes tool calls).
    var chatTemplateSource: String { get }
    /// The base model's LoRA adapters; nil when adapters are off.
    var adapters: LoRARegistry? { get }
    /// The conversation through the model's chat template, tokenized.
    func encodeChat(_ messages: [ChatMessage], tools: [JinjaValue]?) throws -> [Int32]
    /// A raw completion prompt, tokenized (BOS as the model's metadata says).
    func encodePrompt(_ text: String) -> [Int32]
    func submit(_ request: GenerationRequest) throws -> AsyncThrowingStream<EngineEvent, Error>
    /// Lets in-flight requests finish for up to `gracePeriod` seconds, then stops.
    func shutdown(gracePeriod: Double) async
}

/// A model loaded from a GGUF file, run by an `LLMEngine` in this process.
public final class LocalInferenceEngine: InferenceEngine {
    public let modelName: String
    public let created: Int
    public let model: LoadedModel
    public let engine: LLMEngine

    /// `adapterStore`: where and how many LoRA adapters this model serves (nil: none);
    /// `draft`: a model with the same vocabulary that proposes tokens for speculative decoding.
    public init(name: String, model: LoadedModel, configuration: EngineConfiguration,
                adapterStore: AdapterStoreConfiguration? = nil, draft: LoadedModel? = nil) throws {
        modelName = name
        created = Int(Date().timeIntervalSince1970)
        self.model = model
        engine = LLMEngine(model: model.model, tokenizer: model.tokenizer, configuration: configuration, draft: draft?.model)
        let host = EngineLoRAHost(engine: engine, model: model)
        adapterHost = host
        adapters = try adapterStore.map {
            try LoRARegistry(directory: $0.directory, config: host.config, maxRank: $0.maxRank, slots: $0.slots,
                             memoryBudget: $0.memoryBudget, host: host)
        }
    }

    public var maxModelLength: Int { engine.maxModelLength }
    public var tokenizer: Tokenizer { model.tokenizer }
    public var chatTemplateSource: String { model.chatTemplate.source }
    public let adapters: LoRARegistry?
    private let adapterHost: EngineLoRAHost

    public func encodeChat(_ messages: [ChatMessage], tools: [JinjaValue]?) throws -> [Int32] {
        try model.encodeChat(messages, tools: tools)
    }

    public func encodePrompt(_ text: String) -> [Int32] { model.encodeRaw(text) }

    public func submit(_ request: GenerationRequest) throws -> AsyncThrowingStream<EngineEvent, Error> {
        try engine.submit(request)
    }

    public func shutdown(gracePeriod: Double) async {
        let engine = engine
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                engine.shutdown(gracePeriod: gracePeriod)
                done.resume()
            }
        }
    }
}

/// Where a server keeps its model's LoRA adapters and how many it holds in memory.
public struct AdapterStoreConfiguration: Sendable {
    public var directory: String
    public var maxRank: Int
    public var slots: Int
    public var memoryBudget: Int

    public init(directory: String, maxRank: Int = 64, slots: Int = 128, memoryBudget: Int = 2 << 30) {
        self.directory = directory
        self.maxRank = maxRank
        self.slots = slots
        self.memoryBudget = memoryBudget
    }
}

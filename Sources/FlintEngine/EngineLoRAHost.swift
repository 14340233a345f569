import FlintLoading
import FlintModels

/// Puts adapters into an engine's slots, converted to the format the LoRA kernels read:
/// the LoRA registry's host in the server, and what `flint generate --lora` installs with.
public final class EngineLoRAHost: LoRAHost {
    public let engine: LLMEngine
    public let config: ModelConfig

    public init(engine: LLMEngine, model: LoadedModel) {
        self.engine = engine
        config = model.model.config
    }

    public func loadAdapter(_ adapter: LoRAAdapter, slot: Int32) throws -> Int {
        let weights = try LoRAAdapterWeights(adapter: adapter, config: config)
        try engine.installAdapter(weights, slot: slot)
        return weights.byteCount
    }

    public func unloadAdapter(slot: Int32) { _ = try? engine.removeAdapter(slot: slot) }
}

import FlintLoading
import FlintTensor

/// A decoder-only language model: turns a batch of new tokens into next-token logits,
/// reading and extending the KV cache. Models hold weights only, no per-request state.
public protocol CausalLM: AnyObject, Sendable {
    var config: ModelConfig { get }
    /// The attention kind of each layer (all full, or Gemma 3's local/global mix).
    var layerAttention: [AttentionKind] { get }
    /// Runs the batch and returns logits for `batch.logitRows`, row after row of
    /// `config.vocabularySize` floats. The buffer is reused by the next call.
    func forward(_ batch: ForwardBatch, cache: KVCache, context: ForwardContext) -> UnsafeBufferPointer<Float>
}

extension CausalLM {
    public var shape: ModelShape {
        ModelShape(layers: config.layerCount, kvHeads: config.kvHeadCount, headDim: config.headDim, valueDim: config.valueDim)
    }
}

public enum ModelError: Error, CustomStringConvertible {
    case unsupportedArchitecture(String)
    case unsupported(String)

    public var description: String {
        switch self {
        case .unsupportedArchitecture(let a):
            return "unsupported model architecture '\(a)' (supported: \(ModelRegistry.architectures.joined(separator: ", ")))"
        case .unsupported(let m): return m
        }
    }
}

/// Maps `general.architecture` to the model type that implements it.
public enum ModelRegistry {
    static let constructors: [String: @Sendable (GGUFFile, ModelConfig, [String: [Float]]) throws -> any CausalLM] = [
        "llama": { try Llama(gguf: $0, config: $1, overrides: $2) },
        "mistral": { try Llama(gguf: $0, config: $1, overrides: $2) },
        "qwen2": { try Llama(gguf: $0, config: $1, overrides: $2) },
        "smollm": { try Llama(gguf: $0, config: $1, overrides: $2) },
        "gemma3": { try Gemma3(gguf: $0, config: $1, overrides: $2) },
    ]

    public static var architectures: [String] { constructors.keys.sorted() }

    /// `overrides`: f32 values (row-major, rows × columns) replacing 2-D weight tensors of
    /// the same names, for reference models such as a base with an adapter merged in.
    public static func load(_ gguf: GGUFFile, overrides: [String: [Float]] = [:]) throws -> any CausalLM {
        let config = try ModelConfig(gguf: gguf)
        guard let make = constructors[config.architecture] else {
            throw ModelError.unsupportedArchitecture(config.architecture)
        }
        guard config.valueDim == config.headDim else {
            throw ModelError.unsupported("value_length \(config.valueDim) differs from key_length \(config.headDim)")
        }
        return try make(gguf, config, overrides)
    }
}

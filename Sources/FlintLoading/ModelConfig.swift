import FlintTensor
import Foundation

/// Hyper-parameters of a decoder-only transformer, read from GGUF metadata
/// (`<arch>.*` keys) and checked for consistency before any weight is touched.
public struct ModelConfig: Sendable, Equatable {
    public var architecture: String
    public var name: String
    public var hiddenSize: Int
    public var layerCount: Int
    public var feedForwardSize: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var valueDim: Int
    public var contextLength: Int
    public var rmsNormEpsilon: Float
    public var ropeBase: Float
    /// RoPE base of sliding-window layers (Gemma 3 uses 10 000 there).
    public var ropeBaseLocal: Float
    public var ropeDimensions: Int
    /// Rotary scaling (`rope.scaling.*`: none, linear or YaRN) of full-attention layers;
    /// sliding-window layers take it without its frequency scale, as llama.cpp does.
    public var ropeScaling: RotaryScaling
    /// Sliding-window length of local layers (0 = every layer is global).
    public var slidingWindow: Int
    /// Every `slidingWindowPattern`-th layer is global; the others use the window.
    public var slidingWindowPattern: Int
    public var vocabularySize: Int

    public enum Failure: Error, CustomStringConvertible {
        case invalid(String)
        public var description: String {
            switch self { case .invalid(let m): return "invalid model configuration: \(m)" }
        }
    }

    public init(gguf: GGUFFile) throws {
        let arch = try gguf.string("general.architecture")
        architecture = arch
        name = gguf.metadata["general.name"]?.stringValue ?? arch
        func key(_ k: String) -> String { "\(arch).\(k)" }
        hiddenSize = try gguf.int(key("embedding_length"))
        layerCount = try gguf.int(key("block_count"))
        feedForwardSize = try gguf.int(key("feed_forward_length"))
        headCount = try gguf.int(key("attention.head_count"))
        kvHeadCount = try gguf.optionalInt(key("attention.head_count_kv")) ?? headCount
        guard headCount > 0 else { throw Failure.invalid("attention.head_count is 0") }
        headDim = try gguf.optionalInt(key("attention.key_length")) ?? (hiddenSize / headCount)
        valueDim = try gguf.optionalInt(key("attention.value_length")) ?? headDim
        contextLength = try gguf.optionalInt(key("context_length")) ?? 2048
        rmsNormEpsilon = Float(try gguf.optionalFloat(key("attention.layer_norm_rms_epsilon")) ?? 1e-5)
        ropeBase = Float(try gguf.optionalFloat(key("rope.freq_base")) ?? 10_000)
        ropeDimensions = try gguf.optionalInt(key("rope.dimension_count")) ?? headDim
        ropeScaling = try Self.ropeScaling(gguf, key: key, contextLength: contextLength)
        if arch == "gemma3" {
            slidingWindow = try gguf.optionalInt(key("attention.sliding_window")) ?? 0
            slidingWindowPattern = try gguf.optionalInt(key("attention.sliding_window_pattern")) ?? 6
            ropeBaseLocal = Float(try gguf.optionalFloat(key("rope.freq_base_swa")) ?? 10_000)
        } else {
            slidingWindow = try gguf.optionalInt(key("attention.sliding_window")) ?? 0
            slidingWindowPattern = slidingWindow > 0 ? 1 : 0
            ropeBaseLocal = ropeBase
        }
        guard let embd = gguf.tensorInfo("token_embd.weight") else { throw GGUFError.missingTensor("token_embd.weight") }
        vocabularySize = embd.rowCount

        let limits: [(String, Int, ClosedRange<Int>)] = [
            ("embedding_length", hiddenSize, 1...65_536), ("block_count", layerCount, 1...512),
            ("feed_forward_length", feedForwardSize, 1...262_144), ("attention.head_count", headCount, 1...1024),
            ("attention.head_count_kv", kvHeadCount, 1...1024), ("attention.key_length", headDim, 1...1024),
            ("attention.value_length", valueDim, 1...1024), ("context_length", contextLength, 1...10_000_000),
            ("rope.dimension_count", ropeDimensions, 0...headDim),
        ]
        for (k, v, range) in limits where !range.contains(v) {
            throw Failure.invalid("\(arch).\(k) = \(v) is outside \(range)")
        }
        guard headCount % kvHeadCount == 0 else {
            throw Failure.invalid("head_count \(headCount) is not a multiple of head_count_kv \(kvHeadCount)")
        }
        guard ropeDimensions % 2 == 0 else { throw Failure.invalid("rope.dimension_count \(ropeDimensions) is odd") }
        guard embd.rowLength == hiddenSize else {
            throw GGUFError.wrongTensorShape(name: "token_embd.weight", expected: [hiddenSize, vocabularySize], found: embd.shape)
        }
    }

    /// The rotary scaling llama.cpp derives from `rope.scaling.*` (llama_model::load_hparams and
    /// llama_context's constructor): type "linear" (the default when a factor is given), "none"
    /// or "yarn"; factor 0 or absent means none. YaRN's attention factor is llama.cpp's
    /// get_mscale(factor) divided by the 1 + 0.1 ln(factor) that ggml's rope multiplies back
    /// in, times `rope.scaling.attn_factor`, in the same float operations.
    static func ropeScaling(_ gguf: GGUFFile, key: (String) -> String, contextLength: Int) throws -> RotaryScaling {
        let type = gguf.metadata[key("rope.scaling.type")]?.stringValue ?? "linear"
        let factor = Float(try gguf.optionalFloat(key("rope.scaling.factor")) ?? gguf.optionalFloat(key("rope.scale_linear")) ?? 0)
        guard factor >= 0, factor.isFinite else { throw Failure.invalid("rope.scaling.factor \(factor) must be a finite number ≥ 0") }
        var scaling = RotaryScaling()
        scaling.frequencyScale = factor == 0 ? 1 : 1 / factor
        scaling.originalContextLength = try gguf.optionalInt(key("rope.scaling.original_context_length")) ?? contextLength
        let attentionFactor = Float(try gguf.optionalFloat(key("rope.scaling.attn_factor")) ?? 1)
        switch type {
        case "none":
            scaling.frequencyScale = 1
        case "linear":
            break
        case "yarn":
            scaling.extrapolationFactor = 1
            let f = 1 / scaling.frequencyScale  // llama.cpp's get_mscale and its inverse, fused as compiled
            let mscale: Float = f <= 1 ? 1 : Float(1).addingProduct(0.1, logf(f))
            scaling.attentionFactor = mscale * (1 / Float(1).addingProduct(0.1, logf(f)))
        default:
            throw Failure.invalid("rope.scaling.type '\(type)' is not supported (none, linear or yarn)")
        }
        guard scaling.originalContextLength > 0 else { throw Failure.invalid("rope.scaling.original_context_length is 0") }
        scaling.attentionFactor *= attentionFactor
        return scaling
    }

    /// Whether layer `i` attends through the sliding window.
    public func isSlidingWindowLayer(_ i: Int) -> Bool {
        guard slidingWindow > 0, slidingWindowPattern > 0 else { return false }
        if slidingWindowPattern == 1 { return true }
        return i % slidingWindowPattern < slidingWindowPattern - 1
    }
}

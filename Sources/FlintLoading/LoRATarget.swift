/// The projections of a transformer block an adapter can modify.
public enum LoRATarget: String, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case q, k, v, o, gate, up, down

    /// Module name in Hugging Face / PEFT checkpoints.
    public var peftName: String {
        switch self {
        case .q: "q_proj"
        case .k: "k_proj"
        case .v: "v_proj"
        case .o: "o_proj"
        case .gate: "gate_proj"
        case .up: "up_proj"
        case .down: "down_proj"
        }
    }

    /// Tensor name stem in GGUF files (`blk.N.<name>.weight`).
    public var ggufName: String {
        switch self {
        case .q: "attn_q"
        case .k: "attn_k"
        case .v: "attn_v"
        case .o: "attn_output"
        case .gate: "ffn_gate"
        case .up: "ffn_up"
        case .down: "ffn_down"
        }
    }

    /// The PEFT sub-module holding the projection (`self_attn` or `mlp`).
    public var peftBlock: String { isAttention ? "self_attn" : "mlp" }

    public var isAttention: Bool { self == .q || self == .k || self == .v || self == .o }

    public init?(peftName: String) {
        guard let t = Self.allCases.first(where: { $0.peftName == peftName }) else { return nil }
        self = t
    }

    public init?(ggufName: String) {
        guard let t = Self.allCases.first(where: { $0.ggufName == ggufName }) else { return nil }
        self = t
    }

    /// Columns of the base projection (the length of the vector it multiplies).
    public func inputSize(_ c: ModelConfig) -> Int {
        switch self {
        case .q, .k, .v, .gate, .up: c.hiddenSize
        case .o: c.headCount * c.valueDim
        case .down: c.feedForwardSize
        }
    }

    /// Rows of the base projection.
    public func outputSize(_ c: ModelConfig) -> Int {
        switch self {
        case .q: c.headCount * c.headDim
        case .k: c.kvHeadCount * c.headDim
        case .v: c.kvHeadCount * c.valueDim
        case .o, .down: c.hiddenSize
        case .gate, .up: c.feedForwardSize
        }
    }

    public static func < (a: LoRATarget, b: LoRATarget) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    public var description: String { peftName }
}

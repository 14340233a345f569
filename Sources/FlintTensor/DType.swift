/// Element types of weights and activations. Raw values are GGML's type ids, so a
/// GGUF tensor's type field maps directly.
public enum DType: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0, f16 = 1
    case q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case bf16 = 30

    /// Elements per quantization block (1 for float types).
    public var blockElements: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1: 32
        case .q4_K, .q5_K, .q6_K, .q8_K: 256
        }
    }
    /// Bytes per block (GGML's layouts; CFlintKernels asserts the same sizes).
    public var blockBytes: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q4_0: 18
        case .q4_1: 20
        case .q5_0: 22
        case .q5_1: 24
        case .q8_0: 34
        case .q8_1: 36
        case .q4_K: 144
        case .q5_K: 176
        case .q6_K: 210
        case .q8_K: 292
        }
    }
    /// Bytes of a row of `n` elements; `n` must be a multiple of `blockElements`.
    public func rowBytes(_ n: Int) -> Int { n / blockElements * blockBytes }
    /// The format activations are quantized into for a dot product with this weight type.
    public var vecDotType: DType {
        switch self {
        case .f32, .f16, .bf16: self
        case .q4_0, .q5_0, .q8_0: .q8_0
        case .q4_1, .q5_1, .q8_1: .q8_1
        case .q4_K, .q5_K, .q6_K, .q8_K: .q8_K
        }
    }

    public var description: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .bf16: "BF16"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q5_0: "Q5_0"
        case .q5_1: "Q5_1"
        case .q8_0: "Q8_0"
        case .q8_1: "Q8_1"
        case .q4_K: "Q4_K"
        case .q5_K: "Q5_K"
        case .q6_K: "Q6_K"
        case .q8_K: "Q8_K"
        }
    }
}

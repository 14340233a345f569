/// Why an adapter could not be loaded or does not fit a base model. Messages name the
/// file, tensor, layer or setting at fault; the server shows them to the client.
public enum LoRAError: Error, CustomStringConvertible, Equatable {
    case invalidName(String, reason: String)
    case io(String)
    case missingFile(String)
    case badConfig(String)
    case unsupported(String)
    case unknownTargetModule(String)
    case unexpectedTensor(name: String, reason: String)
    case missingMatrix(layer: Int, target: LoRATarget, matrix: String)
    case targetWithoutWeights(LoRATarget)
    case shapeMismatch(String)
    case rankMismatch(String)
    case safeTensors(SafeTensorsError)
    case gguf(GGUFError)
    case rankTooLarge(rank: Int, maxRank: Int)
    case layerOutOfRange(layer: Int, target: LoRATarget, layerCount: Int)
    case dimensionMismatch(String)
    case architectureMismatch(adapter: String, model: String)

    public var description: String {
        switch self {
        case .invalidName(let n, let r):
            return "invalid adapter name '\(n)': \(r)"
        case .io(let m):
            return m
        case .missingFile(let p):
            return "adapter file \(p) does not exist"
        case .badConfig(let m):
            return "invalid adapter_config.json: \(m)"
        case .unsupported(let m):
            return "unsupported adapter: \(m)"
        case .unknownTargetModule(let m):
            return "adapter targets module '\(m)'; only q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj and down_proj are supported"
        case .unexpectedTensor(let n, let r):
            return "adapter tensor '\(n)': \(r)"
        case .missingMatrix(let l, let t, let m):
            return "layer \(l) \(t.peftName) has no \(m) matrix"
        case .targetWithoutWeights(let t):
            return "adapter declares \(t.peftName) in target_modules but has no lora_A/lora_B weights for it in any layer"
        case .shapeMismatch(let m), .rankMismatch(let m), .dimensionMismatch(let m):
            return m
        case .safeTensors(let e):
            return "adapter weights: \(e)"
        case .gguf(let e):
            return "adapter GGUF: \(e)"
        case .rankTooLarge(let r, let m):
            return "adapter rank \(r) exceeds the server's maximum LoRA rank \(m)"
        case .layerOutOfRange(let l, let t, let c):
            return "adapter has weights for layer \(l) \(t.peftName), but the base model has \(c) layers"
        case .architectureMismatch(let a, let m):
            return "adapter is for architecture '\(a)', the base model is '\(m)'"
        }
    }
}

import FlintTensor

/// llama.cpp LoRA adapters (`convert_lora_to_gguf.py` output): `general.type = adapter`,
/// `adapter.type = lora`, `adapter.lora.alpha`, tensors `blk.{i}.{attn_q,...}.weight.lora_a`
/// and `.lora_b`.
///
/// Shapes, in ggml order (ne[0] is the contiguous row length), as llama-adapter.cpp
/// checks them against the base weight W (ne = [in, out]):
///   lora_a: ne = [in, r]   → r rows of `in` values, i.e. PEFT's A [r, in] unchanged;
///   lora_b: ne = [r, out]  → out rows of `r` values, i.e. PEFT's B [out, r] unchanged.
/// So the bytes are our A and B as they are. llama.cpp's scale is alpha / r with
/// r = lora_b ne[0], and plain 1 when alpha is 0 or absent; the converter folds
/// rsLoRA into alpha, so there is no rsLoRA flag to read.
extension LoRAAdapter {
    public static func loadGGUF(path: String) throws -> LoRAAdapter {
        let gguf: GGUFFile
        do { gguf = try GGUFFile(path: path) } catch let e as GGUFError { throw LoRAError.gguf(e) }
        return try fromGGUF(gguf)
    }

    static func fromGGUF(_ gguf: GGUFFile) throws -> LoRAAdapter {
        let generalType = gguf.metadata["general.type"]?.stringValue
        guard generalType == "adapter" else {
            throw LoRAError.unsupported("general.type is \(generalType.map { "'\($0)'" } ?? "missing"), expected 'adapter' (is this a model rather than a LoRA?)")
        }
        let adapterType = gguf.metadata["adapter.type"]?.stringValue
        guard adapterType == "lora" else {
            throw LoRAError.unsupported("adapter.type is \(adapterType.map { "'\($0)'" } ?? "missing"), expected 'lora'")
        }
        let alphaValue: Double?
        do { alphaValue = try gguf.optionalFloat("adapter.lora.alpha") } catch let e as GGUFError { throw LoRAError.gguf(e) }

        var a: [LoRAKey: GGUFTensorInfo] = [:]
        var b: [LoRAKey: GGUFTensorInfo] = [:]
        for info in gguf.tensors {
            let (key, isA) = try parseGGUFName(info.name)
            guard info.type == .f32 || info.type == .f16 || info.type == .bf16 else {
                throw LoRAError.unexpectedTensor(name: info.name, reason: "type \(info.type) (F32, F16 or BF16 expected)")
            }
            guard info.shape.count == 2 else {
                throw LoRAError.shapeMismatch("\(info.name) has ggml shape \(info.shape), expected 2 dimensions")
            }
            if isA { a[key] = info } else { b[key] = info }
        }
        var rank: Int?
        var all: [LoRAWeights] = []
        for key in Set(a.keys).union(b.keys).sorted() {
            guard let ai = a[key] else { throw LoRAError.missingMatrix(layer: key.layer, target: key.target, matrix: "lora_a") }
            guard let bi = b[key] else { throw LoRAError.missingMatrix(layer: key.layer, target: key.target, matrix: "lora_b") }
            let r = ai.shape[1]
            guard bi.shape[0] == r else {
                throw LoRAError.rankMismatch("\(ai.name) has ggml shape \(ai.shape) (rank \(r)) but \(bi.name) has \(bi.shape) (rank \(bi.shape[0])); are lora_a and lora_b transposed?")
            }
            guard r >= 1, r <= maxFileRank else { throw LoRAError.shapeMismatch("\(ai.name) has rank \(r), outside 1...\(maxFileRank)") }
            if let rank, rank != r {
                throw LoRAError.rankMismatch("\(ai.name) has rank \(r), other tensors have rank \(rank); mixed ranks are not supported")
            }
            rank = r
            all.append(try LoRAWeights(layer: key.layer, target: key.target, rank: r, inputSize: ai.shape[0], outputSize: bi.shape[1],
                                       a: floats(gguf, ai), b: floats(gguf, bi)))
        }
        guard let rank else { throw LoRAError.unsupported("the GGUF file has no LoRA tensors") }
        let alpha = alphaValue.flatMap { $0 == 0 ? nil : Float($0) } ?? Float(rank)
        return try LoRAAdapter(rank: rank, alpha: alpha, useRSLoRA: false, targets: nil, architecture: gguf.architecture,
                               baseModelName: gguf.metadata["general.name"]?.stringValue, format: .gguf, weights: all)
    }

    /// `blk.{i}.{attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down}.weight.lora_{a|b}`.
    static func parseGGUFName(_ name: String) throws -> (LoRAKey, isA: Bool) {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard let last = parts.last, last == "lora_a" || last == "lora_b" else {
            throw LoRAError.unexpectedTensor(name: name, reason: "not a LoRA tensor (name must end in .lora_a or .lora_b)")
        }
        if parts.first == "token_embd" { throw LoRAError.unknownTargetModule("token_embd") }
        if parts.first == "output" { throw LoRAError.unknownTargetModule("output") }
        guard parts.count == 5, parts[0] == "blk", parts[3] == "weight" else {
            throw LoRAError.unexpectedTensor(name: name, reason: "not of the form blk.N.<projection>.weight.lora_<a|b>")
        }
        guard let layer = Int(parts[1]), layer >= 0, layer < 100_000 else {
            throw LoRAError.unexpectedTensor(name: name, reason: "'\(parts[1])' is not a layer index")
        }
        guard let target = LoRATarget(ggufName: parts[2]) else { throw LoRAError.unknownTargetModule(parts[2]) }
        return (LoRAKey(layer: layer, target: target), last == "lora_a")
    }

    private static func floats(_ gguf: GGUFFile, _ info: GGUFTensorInfo) -> [Float] {
        let dtype: SafeTensorsDType = info.type == .f32 ? .f32 : info.type == .f16 ? .f16 : .bf16
        let src = UnsafeRawBufferPointer(start: gguf.data(of: info), count: info.byteCount)
        return FloatConversion.toFloats(src, dtype: dtype, count: info.elementCount)
    }
}

import FlintTokenizers

extension TokenizerVocabulary {
    /// Reads the `tokenizer.ggml.*` metadata of a GGUF file. Keys llama.cpp treats as
    /// optional fall back to llama.cpp's defaults; a missing or mistyped required key, or
    /// an unsupported `tokenizer.ggml.model`, throws `TokenizerError`.
    public init(gguf: GGUFFile) throws {
        let metadata = gguf.metadata

        func string(_ key: String) throws -> String? {
            guard let value = metadata[key] else { return nil }
            guard let s = value.stringValue else { throw TokenizerError.wrongKeyType(key: key, expected: "a string") }
            return s
        }
        func bool(_ key: String) throws -> Bool? {
            guard let value = metadata[key] else { return nil }
            guard let b = value.boolValue else { throw TokenizerError.wrongKeyType(key: key, expected: "a boolean") }
            return b
        }
        func tokenID(_ key: String) throws -> Int32?? {
            guard let value = metadata[key] else { return .none }
            switch value {
            case .int(let i):
                // -1 (or any negative) means "no such token".
                return .some(i < 0 || i > Int64(Int32.max) ? nil : Int32(i))
            case .uint(let u):
                return .some(u > UInt64(Int32.max) ? nil : Int32(u))
            default:
                throw TokenizerError.wrongKeyType(key: key, expected: "an integer")
            }
        }

        guard let modelName = try string("tokenizer.ggml.model") else {
            throw TokenizerError.missingKey("tokenizer.ggml.model")
        }
        let model: TokenizerModelKind
        switch modelName {
        case "gpt2": model = .bytePairEncoding
        case "llama": model = .sentencePiece
        default: throw TokenizerError.unsupportedModel(modelName)
        }
        let pre = try string("tokenizer.ggml.pre") ?? "default"

        guard let tokensValue = metadata["tokenizer.ggml.tokens"] else {
            throw TokenizerError.missingKey("tokenizer.ggml.tokens")
        }
        guard let tokens = tokensValue.stringArray else {
            throw TokenizerError.wrongKeyType(key: "tokenizer.ggml.tokens", expected: "an array of strings")
        }
        guard !tokens.isEmpty else { throw TokenizerError.emptyVocabulary }

        var scores: [Float] = []
        if let value = metadata["tokenizer.ggml.scores"] {
            guard let s = value.floatArray else {
                throw TokenizerError.wrongKeyType(key: "tokenizer.ggml.scores", expected: "an array of numbers")
            }
            guard s.count == tokens.count else {
                throw TokenizerError.lengthMismatch(key: "tokenizer.ggml.scores", expected: tokens.count, found: s.count)
            }
            scores = s
        }

        var types: [TokenType] = []
        if let value = metadata["tokenizer.ggml.token_type"] {
            guard let t = value.intArray else {
                throw TokenizerError.wrongKeyType(key: "tokenizer.ggml.token_type", expected: "an array of integers")
            }
            guard t.count == tokens.count else {
                throw TokenizerError.lengthMismatch(key: "tokenizer.ggml.token_type", expected: tokens.count,
                                                    found: t.count)
            }
            types = t.map { raw in
                (raw >= Int64(Int32.min) && raw <= Int64(Int32.max) ? TokenType(rawValue: Int32(raw)) : nil)
                    ?? .undefined
            }
        }

        var merges: [String] = []
        if let value = metadata["tokenizer.ggml.merges"] {
            guard let m = value.stringArray else {
                throw TokenizerError.wrongKeyType(key: "tokenizer.ggml.merges", expected: "an array of strings")
            }
            merges = m
        } else if model == .bytePairEncoding {
            throw TokenizerError.missingKey("tokenizer.ggml.merges")
        }

        let defaults = TokenizerVocabulary.defaults(model: model, preTokenizer: pre)
        func id(_ key: String, default fallback: Int32?) throws -> Int32? {
            switch try tokenID(key) {
            case .none: return fallback
            case .some(let v): return v
            }
        }

        self.init(
            model: model,
            preTokenizer: pre,
            tokens: tokens,
            scores: scores,
            tokenTypes: types,
            merges: merges,
            bosID: try id("tokenizer.ggml.bos_token_id", default: defaults.bosID),
            eosID: try id("tokenizer.ggml.eos_token_id", default: defaults.eosID),
            unknownID: try id("tokenizer.ggml.unknown_token_id", default: defaults.unknownID),
            paddingID: try id("tokenizer.ggml.padding_token_id", default: nil),
            endOfTurnID: try id("tokenizer.ggml.eot_token_id", default: nil),
            endOfMessageID: try id("tokenizer.ggml.eom_token_id", default: nil),
            addBOS: try bool("tokenizer.ggml.add_bos_token") ?? defaults.addBOS,
            addEOS: try bool("tokenizer.ggml.add_eos_token") ?? defaults.addEOS,
            addSpacePrefix: try bool("tokenizer.ggml.add_space_prefix") ?? defaults.addSpacePrefix
        )
    }
}

extension Tokenizer {
    /// Builds the tokenizer described by a GGUF file's `tokenizer.ggml.*` metadata.
    public convenience init(gguf: GGUFFile) throws {
        try self.init(vocabulary: TokenizerVocabulary(gguf: gguf))
    }
}

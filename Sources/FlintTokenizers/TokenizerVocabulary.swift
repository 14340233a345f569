/// Which segmentation algorithm a vocabulary uses.
public enum TokenizerModelKind: String, Sendable, Equatable {
    /// GPT-2 style byte-level BPE with ranked merges (`tokenizer.ggml.model = gpt2`).
    case bytePairEncoding = "gpt2"
    /// SentencePiece BPE driven by token scores, with `<0xNN>` byte fallback
    /// (`tokenizer.ggml.model = llama`).
    case sentencePiece = "llama"
}

/// Token types as stored in GGUF `tokenizer.ggml.token_type` (llama.cpp's numbering).
public enum TokenType: Int32, Sendable, Equatable {
    case undefined = 0
    case normal = 1
    case unknown = 2
    case control = 3
    case userDefined = 4
    case unused = 5
    case byte = 6
}

/// Everything a `Tokenizer` is built from, as plain data (no file access).
public struct TokenizerVocabulary: Sendable, Equatable {
    public var model: TokenizerModelKind
    /// `tokenizer.ggml.pre` (e.g. "qwen2", "smollm", "llama-bpe", "default"); selects the
    /// pre-tokenizer of byte-level BPE. Ignored for SentencePiece.
    public var preTokenizer: String
    public var tokens: [String]
    /// One score per token, or empty (all scores 0).
    public var scores: [Float]
    /// One type per token, or empty (all `.normal`).
    public var tokenTypes: [TokenType]
    /// BPE merges, "left right", in rank order (earlier = higher priority).
    public var merges: [String]
    public var bosID: Int32?
    public var eosID: Int32?
    public var unknownID: Int32?
    public var paddingID: Int32?
    /// End-of-turn token; detected from the token texts when nil (as llama.cpp does).
    public var endOfTurnID: Int32?
    /// End-of-message token; detected from the token texts when nil.
    public var endOfMessageID: Int32?
    public var addBOS: Bool
    public var addEOS: Bool
    /// SentencePiece only: prefix the text with a space ("▁") before segmenting.
    public var addSpacePrefix: Bool

    public init(
        model: TokenizerModelKind,
        preTokenizer: String = "default",
        tokens: [String],
        scores: [Float] = [],
        tokenTypes: [TokenType] = [],
        merges: [String] = [],
        bosID: Int32? = nil,
        eosID: Int32? = nil,
        unknownID: Int32? = nil,
        paddingID: Int32? = nil,
        endOfTurnID: Int32? = nil,
        endOfMessageID: Int32? = nil,
        addBOS: Bool = false,
        addEOS: Bool = false,
        addSpacePrefix: Bool = false
    ) {
        self.model = model
        self.preTokenizer = preTokenizer
        self.tokens = tokens
        self.scores = scores
        self.tokenTypes = tokenTypes
        self.merges = merges
        self.bosID = bosID
        self.eosID = eosID
        self.unknownID = unknownID
        self.paddingID = paddingID
        self.endOfTurnID = endOfTurnID
        self.endOfMessageID = endOfMessageID
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.addSpacePrefix = addSpacePrefix
    }
}

extension TokenizerVocabulary {
    /// llama.cpp's defaults for a vocabulary whose metadata omits them.
    public struct Defaults: Sendable, Equatable {
        public var bosID: Int32?
        public var eosID: Int32?
        public var unknownID: Int32?
        public var addBOS: Bool
        public var addEOS: Bool
        public var addSpacePrefix: Bool
    }

    public static func defaults(model: TokenizerModelKind, preTokenizer: String) -> Defaults {
        switch model {
        case .sentencePiece:
            return Defaults(bosID: 1, eosID: 2, unknownID: 0, addBOS: true, addEOS: false, addSpacePrefix: true)
        case .bytePairEncoding:
            return Defaults(bosID: 11, eosID: 11, unknownID: nil,
                            addBOS: PreTokenizer.named(preTokenizer).defaultAddBOS, addEOS: false,
                            addSpacePrefix: false)
        }
    }
}

/// Why a tokenizer could not be built.
public enum TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A required metadata key is absent.
    case missingKey(String)
    /// A metadata key exists but holds the wrong kind of value.
    case wrongKeyType(key: String, expected: String)
    /// `tokenizer.ggml.model` names a tokenizer Flint does not implement.
    case unsupportedModel(String)
    /// The vocabulary has no tokens.
    case emptyVocabulary
    /// A per-token array (scores, token types) does not have one entry per token.
    case lengthMismatch(key: String, expected: Int, found: Int)

    public var description: String {
        switch self {
        case .missingKey(let k):
            return "tokenizer metadata key '\(k)' is missing"
        case .wrongKeyType(let k, let e):
            return "tokenizer metadata key '\(k)' is not \(e)"
        case .unsupportedModel(let m):
            return "unsupported tokenizer model '\(m)' (supported: gpt2 byte-level BPE, llama SentencePiece BPE)"
        case .emptyVocabulary:
            return "the tokenizer vocabulary is empty"
        case .lengthMismatch(let k, let e, let f):
            return "tokenizer array '\(k)' has \(f) entries, expected one per token (\(e))"
        }
    }
}

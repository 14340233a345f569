/// Text <-> token ids for one model vocabulary, reproducing llama.cpp's tokenizer
/// (llama_vocab) for byte-level BPE ("gpt2") and SentencePiece BPE ("llama") vocabularies.
///
/// Built once from a `TokenizerVocabulary`; immutable and safe to share between threads.
public final class Tokenizer: Sendable {
    public let model: TokenizerModelKind
    public let preTokenizerName: String
    public let vocabularySize: Int
    public let bosID: Int32?
    public let eosID: Int32?
    public let unknownID: Int32?
    public let paddingID: Int32?
    /// End-of-turn token (from metadata, else detected by text as llama.cpp does).
    public let endOfTurnID: Int32?
    public let endOfMessageID: Int32?
    public let addBOS: Bool
    public let addEOS: Bool
    public let addSpacePrefix: Bool
    /// Tokens that end generation: EOS, EOT, EOM, FIM pad/repo/file-separator tokens and
    /// the tokens whose text is a known end marker (`<|im_end|>`, `<|endoftext|>`,
    /// `<end_of_turn>`, `<|eot_id|>`, `<|eom_id|>`, ...), as llama.cpp determines it.
    public let endOfGenerationIDs: Set<Int32>

    /// Token types after llama.cpp's load-time adjustments (end markers become control).
    let types: [TokenType]
    let scores: [Float]
    /// Token texts (ids < vocabularySize), plus merge-only strings for BPE.
    let table: ByteStringTable
    /// Raw bytes each token decodes to; control/unknown/user-defined: their text.
    let pieces: PackedByteStrings
    let special: SpecialTokenMatcher
    let bpe: BytePairModel?
    let spm: SentencePieceModel?

    /// Throws `TokenizerError.emptyVocabulary` or `.lengthMismatch` for inconsistent data.
    /// Special-token ids outside the vocabulary are ignored (treated as absent).
    public init(vocabulary v: TokenizerVocabulary) throws {
        let n = v.tokens.count
        guard n > 0, n < Int(Int32.max) / 2 else { throw TokenizerError.emptyVocabulary }
        if !v.scores.isEmpty && v.scores.count != n {
            throw TokenizerError.lengthMismatch(key: "tokenizer.ggml.scores", expected: n, found: v.scores.count)
        }
        if !v.tokenTypes.isEmpty && v.tokenTypes.count != n {
            throw TokenizerError.lengthMismatch(key: "tokenizer.ggml.token_type", expected: n,
                                                found: v.tokenTypes.count)
        }
        model = v.model
        preTokenizerName = v.preTokenizer
        vocabularySize = n
        addBOS = v.addBOS
        addEOS = v.addEOS
        addSpacePrefix = v.addSpacePrefix
        scores = v.scores

        var table = ByteStringTable(expectedCount: n + v.merges.count / 4)
        for token in v.tokens { table.append(token.utf8) }

        func valid(_ id: Int32?) -> Int32? {
            guard let id, id >= 0, Int(id) < n else { return nil }
            return id
        }
        func lookup(_ text: String) -> Int32? {
            let id = table.find(text)
            return id >= 0 && Int(id) < n ? id : nil
        }
        bosID = valid(v.bosID)
        eosID = valid(v.eosID)
        unknownID = valid(v.unknownID)
        paddingID = valid(v.paddingID)

        var types = v.tokenTypes.isEmpty ? [TokenType](repeating: .normal, count: n) : v.tokenTypes
        func forceControl(_ id: Int32) {
            if types[Int(id)] != .control { types[Int(id)] = .control }
        }

        // llama.cpp: detect EOT/EOM/FIM tokens by text, forcing them to control type.
        var eot = valid(v.endOfTurnID)
        if eot == nil {
            for text in ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "_<EOT>",
                         "<｜end▁of▁sentence｜>", "<end_of_utterance>"] {
                if let id = lookup(text) { eot = id; break }
            }
        }
        if let eot { forceControl(eot) }
        var eom = valid(v.endOfMessageID)
        if eom == nil { eom = lookup("<|eom_id|>") }
        if let eom { forceControl(eom) }
        endOfTurnID = eot
        endOfMessageID = eom
        func firstFound(_ texts: [String]) -> Int32? {
            for text in texts { if let id = lookup(text) { forceControl(id); return id } }
            return nil
        }
        _ = firstFound(["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
                        "<|code_prefix|>"])
        _ = firstFound(["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
                        "<|code_suffix|>"])
        _ = firstFound(["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>",
                        "<|code_middle|>"])
        let fimPad = firstFound(["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>"])
        let fimRep = firstFound(["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"])
        let fimSep = firstFound(["<|file_sep|>"])

        var eog = Set<Int32>()
        for id in [fimPad, fimRep, fimSep, eosID, eot, eom] { if let id { eog.insert(id) } }
        for text in ["<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>",
                     "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>"] {
            if let id = lookup(text) {
                eog.insert(id)
                forceControl(id)
            }
        }
        // gpt-oss (harmony) markers are always rendered.
        for text in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let id = lookup(text) { types[Int(id)] = .userDefined }
        }
        // harmony: "<|end|>" is not an end of generation when "<|return|>" and "<|call|>" exist.
        if let end = lookup("<|end|>"), let ret = lookup("<|return|>"), let call = lookup("<|call|>"),
           eog.contains(end), eog.contains(ret), eog.contains(call) {
            eog.remove(end)
            types[Int(end)] = .userDefined
        }
        endOfGenerationIDs = eog
        self.types = types

        // Decoded bytes of every token.
        var pieces = PackedByteStrings()
        var buffer: [UInt8] = []
        for (i, token) in v.tokens.enumerated() {
            buffer.removeAll(keepingCapacity: true)
            switch types[i] {
            case .control, .unknown, .userDefined:
                buffer.append(contentsOf: token.utf8)
            case .normal:
                if v.model == .sentencePiece {
                    Self.unescapeWhitespace(token, into: &buffer)
                } else {
                    GPT2ByteMapping.decode(token, into: &buffer)
                }
            case .byte:
                if v.model == .sentencePiece, let b = Self.parseByteToken(token) { buffer.append(b) }
            case .unused, .undefined:
                break
            }
            pieces.append(buffer)
        }
        self.pieces = pieces

        var specials: [(id: Int32, text: [UInt8], alwaysRecognised: Bool)] = []
        for i in 0..<n where types[i] == .control || types[i] == .userDefined || types[i] == .unknown {
            specials.append((Int32(i), Array(v.tokens[i].utf8), types[i] == .userDefined))
        }
        special = SpecialTokenMatcher(tokens: specials)

        switch v.model {
        case .bytePairEncoding:
            bpe = BytePairModel(preTokenizer: PreTokenizer.named(v.preTokenizer), merges: v.merges, table: &table,
                                vocabularySize: n)
            spm = nil
        case .sentencePiece:
            bpe = nil
            spm = SentencePieceModel(table: table, vocabularySize: n, unknownID: valid(v.unknownID))
        }
        self.table = table
    }

    // MARK: - Encoding

    /// Tokenizes `text`.
    /// - Parameters:
    ///   - addSpecial: add BOS / EOS as the vocabulary's `addBOS` / `addEOS` flags say.
    ///   - parseSpecial: recognise the text of control tokens (e.g. `<|im_start|>`) and emit
    ///     their ids. User-defined tokens are always recognised, as in llama.cpp.
    public func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32] {
        var text = text
        return text.withUTF8 { encode(utf8: $0, addSpecial: addSpecial, parseSpecial: parseSpecial) }
    }

    /// Tokenizes UTF-8 bytes (invalid sequences are tolerated: they fall back to byte tokens).
    public func encode(utf8 bytes: UnsafeBufferPointer<UInt8>, addSpecial: Bool, parseSpecial: Bool) -> [Int32] {
        var output: [Int32] = []
        output.reserveCapacity(bytes.count / 3 + 4)
        let fragments = special.partition(bytes, parseSpecial: parseSpecial)
        if let spm {
            if addSpecial && addBOS, let bos = bosID { output.append(bos) }
            var previousWasSpecial = true
            var scratch = SentencePieceModel.Scratch()
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    output.append(id)
                    previousWasSpecial = true
                case .text(let range):
                    scratch.text.removeAll(keepingCapacity: true)
                    if addSpacePrefix && previousWasSpecial { scratch.text.append(contentsOf: [0xE2, 0x96, 0x81]) }
                    for b in bytes[range] {
                        if b == 0x20 {
                            scratch.text.append(contentsOf: [0xE2, 0x96, 0x81])  // "▁"
                        } else {
                            scratch.text.append(b)
                        }
                    }
                    let escaped = scratch.text
                    escaped.withUnsafeBufferPointer {
                        spm.encode($0, table: table, scores: scores, scratch: &scratch, output: &output)
                    }
                    previousWasSpecial = false
                }
            }
            if addSpecial && addEOS, let eos = eosID { output.append(eos) }
        } else if let bpe {
            if addSpecial && addBOS, let bos = bosID { output.append(bos) }
            var scratch = BytePairModel.Scratch()
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    output.append(id)
                case .text(let range):
                    bpe.encode(UnsafeBufferPointer(rebasing: bytes[range]), table: table, scratch: &scratch,
                               output: &output)
                }
            }
            if addSpecial && addEOS, let eos = eosID { output.append(eos) }
        }
        return output
    }

    // MARK: - Decoding

    /// Converts ids back to text, like llama.cpp's detokenize. Ids outside the vocabulary
    /// and unused tokens contribute nothing. With `skipSpecial`, control and unknown tokens
    /// are dropped (and a leading BOS / trailing EOS removed as llama.cpp's remove_special
    /// does); otherwise they appear as their text. With `addSpacePrefix` the leading space
    /// of the first piece is removed. Invalid UTF-8 in the byte stream becomes U+FFFD.
    public func decode(_ ids: [Int32], skipSpecial: Bool = false) -> String {
        String(decoding: decodeBytes(ids, skipSpecial: skipSpecial), as: UTF8.self)
    }

    /// The raw bytes `decode` would produce (before UTF-8 validation).
    public func decodeBytes(_ ids: [Int32], skipSpecial: Bool = false) -> [UInt8] {
        var slice = ids[...]
        var removeSpace = addSpacePrefix
        if skipSpecial && addBOS, let first = slice.first, first == bosID {
            removeSpace = false
            slice = slice.dropFirst()
        }
        if skipSpecial && addEOS, let last = slice.last, last == eosID {
            slice = slice.dropLast()
        }
        var out: [UInt8] = []
        out.reserveCapacity(slice.count * 4)
        for id in slice {
            appendPiece(id, skipSpecial: skipSpecial, removeLeadingSpace: removeSpace, to: &out)
            removeSpace = false
        }
        return out
    }

    /// Appends the bytes of one token as decoding emits them.
    func appendPiece(_ id: Int32, skipSpecial: Bool, removeLeadingSpace: Bool, to out: inout [UInt8]) {
        guard id >= 0, Int(id) < vocabularySize else { return }
        if skipSpecial {
            let t = types[Int(id)]
            if t == .control || t == .unknown { return }
        }
        var piece = pieces.bytes(Int(id))
        if removeLeadingSpace, piece.first == 0x20 { piece = piece.dropFirst() }
        out.append(contentsOf: piece)
    }

    /// The raw bytes a token stands for: byte-level BPE text mapped back through the GPT-2
    /// byte table; SentencePiece "▁" as a space and `<0xNN>` as that byte; control,
    /// unknown and user-defined tokens as their text; unused tokens and ids outside the
    /// vocabulary as no bytes.
    public func tokenBytes(_ id: Int32) -> [UInt8] {
        guard id >= 0, Int(id) < vocabularySize else { return [] }
        return Array(pieces.bytes(Int(id)))
    }

    // MARK: - Token facts

    /// The token's text as stored in the vocabulary (e.g. "Ġthe", "▁the", "<|im_end|>").
    public func tokenText(_ id: Int32) -> String? {
        guard id >= 0, Int(id) < vocabularySize else { return nil }
        return String(decoding: table.bytes(Int(id)), as: UTF8.self)
    }

    /// The id of the token whose stored text is exactly `text` (the highest such id).
    public func id(forTokenText text: String) -> Int32? {
        let id = table.find(text)
        return id >= 0 && Int(id) < vocabularySize ? id : nil
    }

    public func tokenType(_ id: Int32) -> TokenType? {
        guard id >= 0, Int(id) < vocabularySize else { return nil }
        return types[Int(id)]
    }

    public func isControl(_ id: Int32) -> Bool { tokenType(id) == .control }

    public func isEndOfGeneration(_ id: Int32) -> Bool { endOfGenerationIDs.contains(id) }

    public func score(_ id: Int32) -> Float {
        guard id >= 0, Int(id) < scores.count else { return 0 }
        return scores[Int(id)]
    }

    // MARK: - Helpers

    /// SentencePiece text -> bytes: "▁" (E2 96 81) becomes a space.
    static func unescapeWhitespace(_ token: String, into out: inout [UInt8]) {
        var token = token
        token.withUTF8 { u in
            var i = 0
            while i < u.count {
                if i + 2 < u.count && u[i] == 0xE2 && u[i + 1] == 0x96 && u[i + 2] == 0x81 {
                    out.append(0x20)
                    i += 3
                } else {
                    out.append(u[i])
                    i += 1
                }
            }
        }
    }

    /// "<0xNN>" -> NN.
    static func parseByteToken(_ token: String) -> UInt8? {
        let u = Array(token.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        guard let hi = hex(u[3]), let lo = hex(u[4]) else { return nil }
        return hi << 4 | lo
    }
}

import Foundation
import XCTest
import FlintLoading
import FlintTokenizers

/// Tokenizers built from small hand-made vocabularies (no model files needed).
final class SyntheticVocabularyTests: XCTestCase {
    /// The 256 GPT-2 byte-alphabet characters, in byte order.
    static let byteAlphabet: [String] = {
        var direct = Set<Int>()
        for b in 33...126 { direct.insert(b) }
        for b in 161...172 { direct.insert(b) }
        for b in 174...255 { direct.insert(b) }
        var next = 256
        return (0..<256).map { b -> String in
            if direct.contains(b) { return String(Unicode.Scalar(UInt8(b))) }
            defer { next += 1 }
            return String(Character(Unicode.Scalar(UInt32(next))!))
        }
    }()

    func makeBPE(pre: String = "gpt2") throws -> Tokenizer {
        // ids 0...255: bytes; then merges' results; then specials.
        let tokens = Self.byteAlphabet + ["Ġt", "he", "Ġthe", "Ġthe re", "<|end|>", "<|end|>x", "<b>"]
        var types = [TokenType](repeating: .normal, count: tokens.count)
        types[260] = .control
        types[261] = .control
        types[262] = .userDefined
        return try Tokenizer(vocabulary: TokenizerVocabulary(
            model: .bytePairEncoding, preTokenizer: pre, tokens: tokens, tokenTypes: types,
            merges: ["Ġ t", "h e", "Ġt he", "Ġthe Ġthe"],  // last result is not a token
            bosID: 260, eosID: 260, addBOS: false))
    }

    func testBytePairMergesByRank() throws {
        let t = try makeBPE()
        let space = Int32(Self.byteAlphabet.firstIndex(of: "Ġ")!)
        XCTAssertEqual(t.encode(" the", addSpecial: false, parseSpecial: false), [258])
        XCTAssertEqual(t.encode("the", addSpecial: false, parseSpecial: false), [Int32(UInt8(ascii: "t")), 257])
        XCTAssertEqual(t.encode(" t", addSpecial: false, parseSpecial: false), [256])
        XCTAssertEqual(t.encode(" ", addSpecial: false, parseSpecial: false), [space])
        XCTAssertEqual(t.decode([258, 258]), " the the")
        XCTAssertEqual(t.tokenBytes(space), [0x20])
        XCTAssertEqual(t.tokenBytes(10), [10])  // byte 0x0A is written as "Ċ"
    }

    func testSpecialTokensLongestFirst() throws {
        let t = try makeBPE()
        XCTAssertEqual(t.encode("<|end|>x", addSpecial: false, parseSpecial: true), [261])
        XCTAssertEqual(t.encode("<|end|><|end|>x<|end|>", addSpecial: false, parseSpecial: true), [260, 261, 260])
        XCTAssertEqual(t.encode("a<b>c", addSpecial: false, parseSpecial: false),
                       [Int32(UInt8(ascii: "a")), 262, Int32(UInt8(ascii: "c"))])
        XCTAssertFalse(t.encode("<|end|>", addSpecial: false, parseSpecial: false).contains(260))
        XCTAssertTrue(t.isControl(260))
        XCTAssertTrue(t.endOfGenerationIDs.contains(260))
        XCTAssertEqual(t.decode([260, 258], skipSpecial: true), " the")
        XCTAssertEqual(t.decode([260, 258], skipSpecial: false), "<|end|> the")
    }

    func testPreTokenizerVariants() throws {
        // Digits: gpt2 keeps runs, smollm splits each digit, qwen2 one at a time,
        // llama3 in groups of three.
        func pieces(_ pre: String, _ text: String) throws -> [String] {
            let t = try makeBPE(pre: pre)
            return t.encode(text, addSpecial: false, parseSpecial: false).map { t.decode([$0]) }
        }
        XCTAssertEqual(try pieces("gpt2", "a 12345"), ["a", " ", "1", "2", "3", "4", "5"])  // no merges for digits
        XCTAssertEqual(try makeBPE(pre: "llama-bpe").decode(try makeBPE(pre: "llama-bpe")
            .encode("x 1234567 y", addSpecial: false, parseSpecial: false)), "x 1234567 y")
        for pre in ["gpt2", "smollm", "qwen2", "llama-bpe", "default", "falcon", "something-new"] {
            let t = try makeBPE(pre: pre)
            for text in ["Hello  world\n\n  x", "it's 2024!\r\n\tdone", "  ", "a\u{00A0}\u{3000}b 😀 ½ Ⅻ"] {
                XCTAssertEqual(t.decode(t.encode(text, addSpecial: false, parseSpecial: false)), text, pre)
            }
        }
    }

    func testSentencePieceScoresAndByteFallback() throws {
        // "▁" = U+2581. Byte tokens for every byte, a few pieces with scores.
        var tokens = ["<unk>", "<s>", "</s>"]
        var types: [TokenType] = [.unknown, .control, .control]
        var scores: [Float] = [0, 0, 0]
        for b in 0..<256 {
            tokens.append(String(format: "<0x%02X>", b))
            types.append(.byte)
            scores.append(0)
        }
        let pieces: [(String, Float)] = [("▁", -1), ("h", -2), ("e", -2), ("l", -2), ("o", -2), ("he", -3),
                                          ("ll", -3), ("hell", -4), ("hello", -5), ("▁hello", -6), ("lo", -1)]
        for (p, s) in pieces {
            tokens.append(p)
            types.append(.normal)
            scores.append(s)
        }
        let t = try Tokenizer(vocabulary: TokenizerVocabulary(
            model: .sentencePiece, tokens: tokens, scores: scores, tokenTypes: types,
            bosID: 1, eosID: 2, unknownID: 0, addBOS: true, addEOS: false, addSpacePrefix: true))
        let id = { (s: String) in t.id(forTokenText: s)! }
        // Highest score first: "lo" (-1) beats "ll" (-3), so "hello" cannot form.
        XCTAssertEqual(t.encode("hello", addSpecial: false, parseSpecial: false), [id("▁"), id("he"), id("l"), id("lo")])
        XCTAssertEqual(t.encode("hello", addSpecial: true, parseSpecial: false).first, 1)
        // Unknown characters fall back to their UTF-8 bytes.
        XCTAssertEqual(t.encode("é", addSpecial: false, parseSpecial: false), [id("▁"), 3 + 0xC3, 3 + 0xA9])
        XCTAssertEqual(t.decode(t.encode("é hello", addSpecial: false, parseSpecial: false)), "é hello")
        XCTAssertEqual(t.decode(t.encode("é hello", addSpecial: true, parseSpecial: false), skipSpecial: true),
                       " é hello")  // llama.cpp keeps the prefix space when a BOS is removed
        // Streaming the two byte tokens of "é": nothing until the character is complete.
        var stream = StreamingDetokenizer(tokenizer: t)
        XCTAssertEqual(stream.append(3 + 0xC3), "")
        XCTAssertEqual(stream.pendingByteCount, 1)
        XCTAssertEqual(stream.append(3 + 0xA9), "é")
        XCTAssertEqual(stream.append(3 + 0xF0), "")  // a dangling lead byte at the end...
        XCTAssertEqual(stream.flush(), "\u{FFFD}")  // ...is flushed as a replacement character
    }

    func testInvalidVocabulariesThrow() {
        XCTAssertThrowsError(try Tokenizer(vocabulary: TokenizerVocabulary(model: .sentencePiece, tokens: []))) {
            XCTAssertEqual($0 as? TokenizerError, .emptyVocabulary)
        }
        XCTAssertThrowsError(try Tokenizer(vocabulary: TokenizerVocabulary(
            model: .sentencePiece, tokens: ["a", "b"], scores: [0]))) {
            XCTAssertEqual($0 as? TokenizerError,
                           .lengthMismatch(key: "tokenizer.ggml.scores", expected: 2, found: 1))
        }
    }

    // MARK: GGUF metadata errors

    func testGGUFErrors() throws {
        let unsupported = try writeGGUF([("tokenizer.ggml.model", .string("bert")),
                                         ("tokenizer.ggml.tokens", .strings(["a"]))])
        XCTAssertThrowsError(try Tokenizer(gguf: GGUFFile(path: unsupported))) {
            XCTAssertEqual($0 as? TokenizerError, .unsupportedModel("bert"))
        }
        let missing = try writeGGUF([("tokenizer.ggml.model", .string("llama"))])
        XCTAssertThrowsError(try Tokenizer(gguf: GGUFFile(path: missing))) {
            XCTAssertEqual($0 as? TokenizerError, .missingKey("tokenizer.ggml.tokens"))
        }
        let wrongType = try writeGGUF([("tokenizer.ggml.model", .string("llama")),
                                       ("tokenizer.ggml.tokens", .strings(["a", "b"])),
                                       ("tokenizer.ggml.add_bos_token", .string("yes"))])
        XCTAssertThrowsError(try Tokenizer(gguf: GGUFFile(path: wrongType))) {
            XCTAssertEqual($0 as? TokenizerError,
                           .wrongKeyType(key: "tokenizer.ggml.add_bos_token", expected: "a boolean"))
        }
        let noModel = try writeGGUF([("tokenizer.ggml.tokens", .strings(["a"]))])
        XCTAssertThrowsError(try Tokenizer(gguf: GGUFFile(path: noModel))) {
            XCTAssertEqual($0 as? TokenizerError, .missingKey("tokenizer.ggml.model"))
        }
        let ok = try writeGGUF([("tokenizer.ggml.model", .string("llama")),
                                ("tokenizer.ggml.tokens", .strings(["<unk>", "<s>", "</s>", "▁a"]))])
        let t = try Tokenizer(gguf: GGUFFile(path: ok))
        XCTAssertEqual(t.bosID, 1)  // llama.cpp's SentencePiece defaults
        XCTAssertTrue(t.addBOS)
        XCTAssertEqual(t.encode("a", addSpecial: true, parseSpecial: false), [1, 3])
    }

    enum MetaValue {
        case string(String)
        case strings([String])
    }

    private func writeGGUF(_ kv: [(String, MetaValue)]) throws -> String {
        var d = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); d.append(contentsOf: Array(s.utf8)) }
        u32(0x4655_4747)
        u32(3)
        u64(0)
        u64(UInt64(kv.count))
        for (key, value) in kv {
            str(key)
            switch value {
            case .string(let s):
                u32(8); str(s)
            case .strings(let a):
                u32(9); u32(8); u64(UInt64(a.count)); a.forEach(str)
            }
        }
        while d.count % 32 != 0 { d.append(0) }
        let path = NSTemporaryDirectory() + "flint-tok-\(UUID().uuidString).gguf"
        try d.write(to: URL(fileURLWithPath: path))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }
}

import Foundation
import FlintTestSupport
import XCTest
import FlintLoading
import FlintTokenizers

/// Behaviour on the real catalog vocabularies beyond the reference cases.
final class TokenizerBehaviourTests: XCTestCase {
    static let names = Golden.models.map(\.catalogName)

    private func eachTokenizer(_ body: (String, Tokenizer) throws -> Void) rethrows {
        for name in Self.names {
            guard let t = TokenizerStore.shared.tokenizer(name) else { continue }
            try body(name, t)
        }
    }

    func testEmptyString() {
        eachTokenizer { name, t in
            XCTAssertEqual(t.encode("", addSpecial: false, parseSpecial: true), [], name)
            let expected: [Int32] = t.addBOS ? [t.bosID!] : []
            XCTAssertEqual(t.encode("", addSpecial: true, parseSpecial: true), expected, name)
            XCTAssertEqual(t.decode([]), "", name)
        }
    }

    func testSpecialTokenIDs() throws {
        let smol = try XCTUnwrap(TokenizerStore.shared.tokenizer("smollm2-135m-instruct"))
        XCTAssertEqual(smol.vocabularySize, 49152)
        XCTAssertEqual(smol.bosID, 1)
        XCTAssertEqual(smol.eosID, 2)
        XCTAssertEqual(smol.endOfTurnID, 2)  // <|im_end|>
        // eos/<|im_end|>, <|endoftext|>, and <reponame> (llama.cpp's FIM repo marker).
        XCTAssertEqual(smol.endOfGenerationIDs, [0, 2, 4])

        let gemma = try XCTUnwrap(TokenizerStore.shared.tokenizer("gemma-3-270m"))
        XCTAssertEqual(gemma.vocabularySize, 262_144)
        XCTAssertEqual(gemma.bosID, 2)
        XCTAssertEqual(gemma.eosID, 1)
        XCTAssertEqual(gemma.unknownID, 3)
        XCTAssertEqual(gemma.endOfGenerationIDs, [1, 106])  // <eos>, <end_of_turn>
        XCTAssertEqual(gemma.id(forTokenText: "<end_of_turn>"), 106)
        XCTAssertTrue(gemma.isControl(106))
        XCTAssertFalse(gemma.isControl(107))  // "\n" is user-defined
        XCTAssertEqual(gemma.tokenBytes(238 + 0x0A), [0x0A])  // <0x0A>
        XCTAssertEqual(gemma.tokenText(9952), "▁spaces")
        XCTAssertEqual(gemma.tokenBytes(9952), Array(" spaces".utf8))

        let qwen = try XCTUnwrap(TokenizerStore.shared.tokenizer("qwen2.5-coder-0.5b-instruct"))
        XCTAssertEqual(qwen.vocabularySize, 151_936)
        XCTAssertEqual(qwen.eosID, 151_645)
        XCTAssertEqual(qwen.endOfGenerationIDs, [151_643, 151_645, 151_662, 151_663, 151_664])
        XCTAssertEqual(qwen.tokenText(220), "Ġ")
        XCTAssertEqual(qwen.tokenBytes(220), [0x20])
        XCTAssertEqual(qwen.tokenBytes(151_645), Array("<|im_end|>".utf8))
        XCTAssertTrue(qwen.isControl(151_644))
    }

    func testSpecialTokenParsing() throws {
        let qwen = try XCTUnwrap(TokenizerStore.shared.tokenizer("qwen2.5-coder-0.5b-instruct"))
        let chat = "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        let parsed = qwen.encode(chat, addSpecial: false, parseSpecial: true)
        XCTAssertEqual(parsed.filter { $0 == 151_644 }.count, 3)
        XCTAssertEqual(parsed.filter { $0 == 151_645 }.count, 2)
        XCTAssertEqual(parsed.first, 151_644)
        XCTAssertEqual(qwen.decode(parsed), chat)
        XCTAssertEqual(qwen.decode(parsed, skipSpecial: true), "system\nYou are helpful.\nuser\nHi\nassistant\n")
        let plain = qwen.encode(chat, addSpecial: false, parseSpecial: false)
        XCTAssertFalse(plain.contains(151_644))
        XCTAssertFalse(plain.contains(151_645))
        XCTAssertEqual(qwen.decode(plain), chat)
        // Text on both sides of a special token is tokenized on its own.
        XCTAssertEqual(qwen.encode("a<|im_end|>b", addSpecial: false, parseSpecial: true),
                       qwen.encode("a", addSpecial: false, parseSpecial: false) + [151_645]
                           + qwen.encode("b", addSpecial: false, parseSpecial: false))
        // User-defined tokens are recognised even without special parsing (llama.cpp).
        XCTAssertEqual(qwen.encode("<tool_call>", addSpecial: false, parseSpecial: false), [151_657])

        let gemma = try XCTUnwrap(TokenizerStore.shared.tokenizer("gemma-3-270m"))
        let turn = gemma.encode("<start_of_turn>user\nHi<end_of_turn>\n", addSpecial: true, parseSpecial: true)
        XCTAssertEqual(turn.first, 2)
        XCTAssertEqual(turn[1], 105)
        XCTAssertTrue(turn.contains(106))
        XCTAssertEqual(gemma.decode(turn, skipSpecial: true), "user\nHi\n")
        XCTAssertEqual(gemma.decode(Array(turn.dropFirst())), "<start_of_turn>user\nHi<end_of_turn>\n")
        XCTAssertFalse(gemma.encode("<start_of_turn>", addSpecial: false, parseSpecial: false).contains(105))
        XCTAssertEqual(gemma.encode("<start_of_turn>", addSpecial: false, parseSpecial: true), [105])
    }

    func testStreamingDetokenizerNeverSplitsCharacters() {
        let texts = [
            "Emoji: 🚀🔥👩‍💻 ✨ and flags 🇫🇷🇯🇵",
            "日本語のテキストと中文文本，한국어 텍스트",
            "Mixed: naïve café — “quotes” … 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🧑🏽‍🚀",
        ]
        eachTokenizer { name, t in
            var sawHeldBytes = false
            for text in texts {
                let ids = t.encode(text, addSpecial: false, parseSpecial: false)
                var stream = StreamingDetokenizer(tokenizer: t)
                var joined = ""
                for id in ids {
                    let chunk = stream.append(id)
                    if stream.pendingByteCount > 0 { sawHeldBytes = true }
                    XCTAssertFalse(chunk.unicodeScalars.contains("\u{FFFD}"), "\(name): partial character emitted")
                    joined += chunk
                }
                joined += stream.flush()
                XCTAssertEqual(joined, t.decode(ids), name)
                XCTAssertEqual(joined, text, name)
            }
            if name != "gemma-3-270m" {
                // Byte-level BPE splits these characters across tokens.
                XCTAssertTrue(sawHeldBytes, "\(name): expected some characters split across tokens")
            }
        }
    }

    func testOutOfRangeIDsDecodeToNothing() {
        eachTokenizer { name, t in
            let hello = t.encode("hello", addSpecial: false, parseSpecial: false)
            XCTAssertEqual(t.decode([-1] + hello + [Int32(t.vocabularySize), Int32.max]), "hello", name)
            XCTAssertEqual(t.tokenBytes(-5), [], name)
            XCTAssertNil(t.tokenText(Int32(t.vocabularySize)), name)
            var stream = StreamingDetokenizer(tokenizer: t)
            XCTAssertEqual(stream.append(-3), "", name)
        }
    }

    func testRandomInputRoundTripsAndNeverCrashes() {
        var rng = SplitMix64(seed: 0x5EED)
        eachTokenizer { name, t in
            // Bytes the vocabulary can express on their own. SmolLM2's byte alphabet lacks
            // a few (0x04, 0x06, 0x13, 0x14, 0x16, 0x1D, ...): llama.cpp silently drops
            // those bytes, and so do we, so the round trip is exact up to them.
            var representable = [Bool](repeating: false, count: 256)
            for id in 0..<Int32(t.vocabularySize) where t.tokenType(id) == .normal || t.tokenType(id) == .byte {
                let b = t.tokenBytes(id)
                if b.count == 1 { representable[Int(b[0])] = true }
            }
            func roundTrips(_ text: String) -> Bool {
                let ids = t.encode(text, addSpecial: false, parseSpecial: false)
                return t.decodeBytes(ids) == Array(text.utf8).filter { representable[Int($0)] }
            }
            for round in 0..<150 {
                // Random bytes (repaired to valid UTF-8 by String), random scalars mixing
                // scripts / whitespace / marks, and raw invalid UTF-8 through encode(utf8:).
                let length = Int(rng.next() % 200)
                let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                var scalars = String.UnicodeScalarView()
                let pools: [ClosedRange<UInt32>] = [0x00...0x7F, 0x80...0x2FF, 0x300...0x36F, 0x2000...0x206F,
                                                    0x3000...0x30FF, 0x4E00...0x4E80, 0x1F300...0x1F6FF,
                                                    0xAC00...0xAC40, 0x10000...0x1000F]
                for _ in 0..<Int(rng.next() % 120) {
                    let pool = pools[Int(rng.next() % UInt64(pools.count))]
                    let v = pool.lowerBound + UInt32(rng.next() % UInt64(pool.count))
                    if let s = Unicode.Scalar(v) { scalars.append(s) }
                }
                for text in [String(decoding: bytes, as: UTF8.self), String(scalars)] {
                    let ids = t.encode(text, addSpecial: round % 2 == 0, parseSpecial: round % 3 == 0)
                    XCTAssertTrue(ids.allSatisfy { $0 >= 0 && Int($0) < t.vocabularySize }, name)
                    if !roundTrips(text) {
                        XCTFail("\(name): round trip failed for \(String(reflecting: text))")
                        return
                    }
                }
                let raw = bytes.withUnsafeBufferPointer { t.encode(utf8: $0, addSpecial: true, parseSpecial: true) }
                XCTAssertTrue(raw.allSatisfy { $0 >= 0 && Int($0) < t.vocabularySize }, name)
            }
            // Large and degenerate inputs.
            for text in [String(repeating: " ", count: 20_000), String(repeating: "\n\t ", count: 5_000),
                         String(repeating: "a", count: 30_000), String(repeating: "9", count: 10_000),
                         String(repeating: "<|im_end|>", count: 1_000), String(repeating: "🚀", count: 5_000)] {
                let ids = t.encode(text, addSpecial: true, parseSpecial: true)
                XCTAssertFalse(ids.isEmpty, name)
                XCTAssertTrue(roundTrips(text), name)
            }
        }
    }

    func testEncodePerformance() {
        let paragraph = """
            The quick brown fox jumps over the lazy dog. Flint is an inference engine written in Swift; \
            it loads GGUF files, tokenizes prompts, and generates text token by token.
            func fibonacci(_ n: Int) -> Int { n < 2 ? n : fibonacci(n - 1) + fibonacci(n - 2) }
            日本語のテキストと中文文本. Numbers: 3.14159, 2718281828, -42. Emoji: 🚀🔥✨\n\n
            """
        eachTokenizer { name, t in
            var prompt = ""
            while t.encode(prompt, addSpecial: false, parseSpecial: false).count < 1_000 { prompt += paragraph }
            let count = t.encode(prompt, addSpecial: true, parseSpecial: true).count
            var timings: [Double] = []
            for _ in 0..<15 {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = t.encode(prompt, addSpecial: true, parseSpecial: true)
                timings.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
            let ms = timings.sorted()[timings.count / 2]  // median
            print("[perf] \(name): encode of \(count) tokens (\(prompt.utf8.count) bytes) takes \(String(format: "%.3f", ms)) ms")
            // Release builds take well under a millisecond here; the bound leaves room for a
            // busy shared machine. Debug builds are unoptimised, so only a loose bound applies.
            #if DEBUG
            XCTAssertLessThan(ms, 100, name)
            #else
            XCTAssertLessThan(ms, 10, name)
            #endif
        }
    }
}


import Foundation
import FlintTestSupport
import XCTest
import FlintLoading
import FlintTokenizers

/// Every tokenization in the llama.cpp reference must match exactly.
final class GoldenTokenizerTests: XCTestCase {
    func testSmolLM2() throws { try check(key: "smollm2-135m-instruct-q4_1", name: "smollm2-135m-instruct") }
    func testGemma3() throws { try check(key: "gemma-3-270m-q4_k_m", name: "gemma-3-270m") }
    func testQwen25Coder() throws { try check(key: "qwen2.5-coder-0.5b-instruct", name: "qwen2.5-coder-0.5b-instruct") }

    private func check(key: String, name: String) throws {
        let references = try Golden.load()
        let reference = try XCTUnwrap(references[key], "fixture has no entry \(key)")
        guard let tokenizer = TokenizerStore.shared.tokenizer(name) else { return }
        XCTAssertEqual(tokenizer.addBOS, reference.gguf_add_bos_token, "\(name): add_bos_token")

        var passed = 0
        var total = 0
        func expect(_ got: [Int32], _ want: [Int32], _ what: String, _ text: String) {
            total += 1
            if got == want {
                passed += 1
            } else {
                XCTFail("\(name) \(what) \(String(reflecting: text)):\n  got  \(got)\n  want \(want)")
            }
        }

        for c in reference.tokenize {
            expect(tokenizer.encode(c.text, addSpecial: false, parseSpecial: false), c.ids, "tokenize", c.text)
            expect(tokenizer.encode(c.text, addSpecial: false, parseSpecial: true), c.ids_parse_special,
                   "tokenize(parse special)", c.text)
            // Round trip: the plain tokenization decodes to the text, and so does the
            // special-parsed one when special tokens are rendered as text.
            total += 1
            let plain = tokenizer.decode(tokenizer.encode(c.text, addSpecial: false, parseSpecial: false))
            let parsed = tokenizer.decode(tokenizer.encode(c.text, addSpecial: false, parseSpecial: true))
            if plain == c.text && parsed == c.text {
                passed += 1
            } else {
                XCTFail("\(name) round trip \(String(reflecting: c.text)): got \(String(reflecting: plain)) / \(String(reflecting: parsed))")
            }
        }
        for g in reference.greedy {
            expect(tokenizer.encode(g.prompt, addSpecial: true, parseSpecial: false), g.prompt_ids,
                   "prompt", g.prompt)
            expect(tokenizer.encode(g.prompt, addSpecial: true, parseSpecial: true), g.prompt_ids,
                   "prompt(parse special)", g.prompt)
            // Decoding a BOS-prefixed prompt while skipping special tokens gives the prompt.
            total += 1
            if tokenizer.decode(g.prompt_ids, skipSpecial: true) == g.prompt {
                passed += 1
            } else {
                XCTFail("\(name) decode(prompt_ids, skipSpecial) \(String(reflecting: g.prompt)): got \(String(reflecting: tokenizer.decode(g.prompt_ids, skipSpecial: true)))")
            }
        }
        let seconds = TokenizerStore.shared.loadSeconds[name] ?? 0
        print("[golden] \(name): \(passed)/\(total) checks passed (tokenizer built in \(String(format: "%.3f", seconds)) s)")
    }
}

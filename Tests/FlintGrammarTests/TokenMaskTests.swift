import Foundation
import XCTest
import FlintJinja
import FlintLoading
import FlintTokenizers
import FlintTestSupport
import FlintGrammar

/// The smollm tokenizer and its trie, built once per test process.
final class VocabularyStore: @unchecked Sendable {
    static let shared = VocabularyStore()
    private let lock = NSLock()
    private var value: (Tokenizer, VocabularyTrie)?

    func smollm() throws -> (Tokenizer, VocabularyTrie) {
        lock.lock()
        defer { lock.unlock() }
        if let value { return value }
        let tok = try Tokenizer(gguf: try GGUFFile(path: TestModels.path("smollm2-135m-instruct")))
        let start = DispatchTime.now().uptimeNanoseconds
        let trie = VocabularyTrie(tokenizer: tok)
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        print("VocabularyTrie: \(tok.vocabularySize) tokens, \(trie.nodeCount) nodes, built in \(String(format: "%.1f", ms)) ms")
        value = (tok, trie)
        return (tok, trie)
    }
}

final class TokenMaskTests: XCTestCase {
    func milliseconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }

    /// The mask agrees with decoding every token through the matcher.
    func testMaskMatchesBruteForce() throws {
        let (tok, trie) = try VocabularyStore.shared.smollm()
        let g = try JSONSchemaCompiler.compile(schema: #"{"type":"object","properties":{"name":{"type":"string"},"n":{"type":"integer","minimum":0}},"required":["name","n"],"additionalProperties":false}"#)
        var m = GrammarMatcher(grammar: g)
        for prefix in ["", "{", "{\"na", "{\"name\": \"x", "{\"name\": \"x\", \"n\": 1", "{\"name\": \"x\", \"n\": 1}"] {
            var p = GrammarMatcher(grammar: g)
            XCTAssertTrue(p.accept(string: prefix), prefix)
            m = p
            let mask = m.mask(for: trie)
            var expected: [Int32] = []
            for id in 0..<Int32(tok.vocabularySize) {
                if tok.isEndOfGeneration(id) {
                    if m.isAccepting { expected.append(id) }
                    continue
                }
                let t = tok.tokenType(id)
                if t == .control || t == .unused || t == .unknown { continue }
                let bytes = tok.tokenBytes(id)
                if bytes.isEmpty { continue }
                var c = m
                if c.accept(bytes: bytes) { expected.append(id) }
            }
            XCTAssertEqual(mask.allowedIDs, expected, "after \(prefix.debugDescription)")
            XCTAssertGreaterThan(expected.count, 0)
        }
    }

    func testMaskTiming() throws {
        let (_, trie) = try VocabularyStore.shared.smollm()
        // Fully cold: a fresh grammar, so every DFA transition is built during the walk.
        let fresh = try JSONSchemaCompiler.compile(schema: #"{"type":"json_object"}"#)
        var fm = GrammarMatcher(grammar: fresh)
        XCTAssertTrue(fm.accept(string: "{\"a\": \"xy"))
        let coldest = milliseconds { _ = fm.mask(for: trie, cache: false) }
        print("mask (JSON, smollm 49k vocab) in a string value, fresh grammar: \(String(format: "%.2f", coldest)) ms")
        let g = try JSONSchemaCompiler.compile(schema: #"{"type":"json_object"}"#)
        for (label, prefix) in [("start", ""), ("in a key", "{\""), ("after colon", "{\"a\": "), ("in a string value", "{\"a\": \"xy")] {
            var m = GrammarMatcher(grammar: g)
            XCTAssertTrue(m.accept(string: prefix))
            var mask = TokenMask(bits: [], vocabularySize: 0)
            let cold = milliseconds { mask = m.mask(for: trie, cache: false) }
            var warm = Double.infinity
            for _ in 0..<5 { warm = min(warm, milliseconds { mask = m.mask(for: trie, cache: false) }) }
            let cached = milliseconds { mask = m.mask(for: trie) }
            print("mask (JSON, smollm 49k vocab) \(label): \(mask.allowedCount) allowed; first \(String(format: "%.2f", cold)) ms, warm walk \(String(format: "%.2f", warm)) ms, cached \(String(format: "%.3f", cached)) ms")
            XCTAssertGreaterThan(mask.allowedCount, 0)
        }
    }

    /// Random constrained generation: pick random allowed tokens until the
    /// grammar allows stopping; the text must be accepted, parse as JSON and
    /// satisfy the schema.
    func testRandomWalksSatisfySchemas() throws {
        let (tok, trie) = try VocabularyStore.shared.smollm()
        var rng = SplitMix64(seed: 7)
        var completed = 0, total = 0
        let closing = Set("\"}]0123456789".utf8)
        for c in schemaCases {
            let g = try JSONSchemaCompiler.compile(schema: c.schema)
            let validator = SchemaValidator(root: try JinjaValue.parseJSON(c.schema))
            for _ in 0..<4 {
                total += 1
                var m = GrammarMatcher(grammar: g)
                var out: [UInt8] = []
                var done = false
                for step in 0..<400 {
                    let allowed = m.mask(for: trie).allowedIDs
                    XCTAssertFalse(allowed.isEmpty, "\(c.name): dead end after \(String(decoding: out, as: UTF8.self))")
                    if allowed.isEmpty { break }
                    if m.isAccepting && (step > 40 || rng.below(4) == 0) { done = true; break }
                    var pick = allowed[rng.below(allowed.count)]
                    if step > 40 {
                        // Wrap up: prefer a token that completes the value, then closing characters.
                        let sample = (0..<min(300, allowed.count)).map { _ in allowed[rng.below(allowed.count)] }
                        if let fin = sample.first(where: { id in
                            var c = m
                            return !tok.isEndOfGeneration(id) && c.acceptToken(id, in: trie) && c.isAccepting
                        }) {
                            pick = fin
                        } else if let cl = sample.first(where: { id in
                            let b = trie.bytes(of: id)
                            return b.count <= 2 && b.allSatisfy { closing.contains($0) }
                        }) {
                            pick = cl
                        }
                    }
                    if tok.isEndOfGeneration(pick) {
                        XCTAssertTrue(m.isAccepting)
                        done = true
                        break
                    }
                    XCTAssertTrue(m.acceptToken(pick, in: trie), "\(c.name): mask allowed a token the matcher rejects")
                    out.append(contentsOf: trie.bytes(of: pick))
                }
                let text = String(decoding: out, as: UTF8.self)
                XCTAssertTrue(g.acceptsPrefix(text), "\(c.name): \(text)")
                guard done else { continue }
                completed += 1
                XCTAssertTrue(g.accepts(text), "\(c.name): grammar rejects its own walk \(text.debugDescription)")
                do {
                    let v = try JinjaValue.parseJSON(text)
                    if let e = validator.validate(v) { XCTFail("\(c.name): \(text.debugDescription) violates the schema: \(e)") }
                } catch {
                    XCTFail("\(c.name): walk is not JSON: \(text.debugDescription): \(error)")
                }
            }
        }
        print("random walks: \(completed) of \(total) reached an accepting state")
        XCTAssertGreaterThan(completed, total * 3 / 4)
    }

    func testControlTokensNeverMatch() throws {
        let (tok, trie) = try VocabularyStore.shared.smollm()
        let g = try Grammar(gbnf: #"root ::= "\"" [^"]* "\"""#)
        var m = GrammarMatcher(grammar: g)
        XCTAssertTrue(m.accept(string: "\"x"))
        let imStart = try XCTUnwrap(tok.id(forTokenText: "<|im_start|>"))
        XCTAssertFalse(m.mask(for: trie).isAllowed(imStart))
        XCTAssertFalse(m.acceptToken(imStart, in: trie))
        for eog in tok.endOfGenerationIDs { XCTAssertFalse(m.mask(for: trie).isAllowed(eog)) }
        XCTAssertTrue(m.accept(string: "\""))
        for eog in tok.endOfGenerationIDs { XCTAssertTrue(m.mask(for: trie).isAllowed(eog)) }
    }

    /// Matchers of one grammar used from several threads at once agree with a
    /// single-threaded run.
    func testConcurrentMatchersShareTheCache() throws {
        let (_, trie) = try VocabularyStore.shared.smollm()
        let g = try JSONSchemaCompiler.compile(schema: #"{"type":"object","properties":{"k":{"type":"array","items":{"type":"integer"}}},"required":["k"]}"#)
        let text = #"{"k": [1, 22, 333], "other": {"x": "yz"}}"#
        var expected: [Int] = []
        var m = GrammarMatcher(grammar: try JSONSchemaCompiler.compile(schema: #"{"type":"object","properties":{"k":{"type":"array","items":{"type":"integer"}}},"required":["k"]}"#))
        for b in text.utf8 {
            expected.append(m.mask(for: trie).allowedCount)
            XCTAssertTrue(m.accept(b))
        }
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var ok = [Bool](repeating: false, count: 8)
        }
        let results = Results()
        let expectedCounts = expected
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            var m = GrammarMatcher(grammar: g)
            var ok = true
            for (j, b) in text.utf8.enumerated() {
                if m.mask(for: trie, cache: i % 2 == 0).allowedCount != expectedCounts[j] { ok = false }
                if !m.accept(b) { ok = false }
            }
            results.lock.lock()
            results.ok[i] = ok && m.isAccepting
            results.lock.unlock()
        }
        XCTAssertEqual(results.ok, [Bool](repeating: true, count: 8))
    }

    /// SentencePiece (gemma: "▁" spaces, <0xNN> byte tokens, 262k vocabulary) and
    /// qwen2 (151k) vocabularies: masks agree with the matcher and walks finish.
    func testOtherTokenizers() throws {
        let schema = #"{"type":"object","properties":{"city":{"type":"string","maxLength":20},"temp":{"type":"number","minimum":-50,"maximum":60},"tags":{"type":"array","items":{"enum":["sun","rain","wind"]},"maxItems":3}},"required":["city","temp"],"additionalProperties":false}"#
        let g = try JSONSchemaCompiler.compile(schema: schema)
        let validator = SchemaValidator(root: try JinjaValue.parseJSON(schema))
        for name in ["gemma-3-270m", "qwen2.5-coder-0.5b-instruct"] {
            let tok = try Tokenizer(gguf: try GGUFFile(path: TestModels.path(name)))
            var trie: VocabularyTrie!
            let build = milliseconds { trie = VocabularyTrie(tokenizer: tok) }
            var rng = SplitMix64(seed: 3)
            var m = GrammarMatcher(grammar: g)
            XCTAssertTrue(m.accept(string: #"{"city": "Pa"#))
            var mask = m.mask(for: trie, cache: false)
            var warm = Double.infinity
            for _ in 0..<3 { warm = min(warm, milliseconds { mask = m.mask(for: trie, cache: false) }) }
            print("\(name): \(tok.vocabularySize) tokens, trie \(trie.nodeCount) nodes in \(String(format: "%.0f", build)) ms; mask in a string \(String(format: "%.2f", warm)) ms, \(mask.allowedCount) allowed")
            // Spot-check the mask against the matcher on a sample of tokens.
            for _ in 0..<3000 {
                let id = Int32(rng.below(tok.vocabularySize))
                var c = m
                let ok = tok.isEndOfGeneration(id) ? m.isAccepting : (trie.isMatchable(id) && c.acceptToken(id, in: trie))
                XCTAssertEqual(mask.isAllowed(id), ok, "\(name) token \(id)")
            }
            for _ in 0..<4 {
                var m = GrammarMatcher(grammar: g)
                var out: [UInt8] = []
                var done = false
                for step in 0..<300 {
                    let allowed = m.mask(for: trie).allowedIDs
                    XCTAssertFalse(allowed.isEmpty)
                    if allowed.isEmpty { break }
                    if m.isAccepting { done = true; break }
                    var pick = allowed[rng.below(allowed.count)]
                    if step > 30 {
                        let sample = (0..<min(300, allowed.count)).map { _ in allowed[rng.below(allowed.count)] }
                        pick = sample.first(where: { id in
                            let b = trie.bytes(of: id)
                            return b.count <= 2 && b.allSatisfy { Set("\"}]0123456789".utf8).contains($0) }
                        }) ?? pick
                    }
                    XCTAssertTrue(m.acceptToken(pick, in: trie))
                    out.append(contentsOf: trie.bytes(of: pick))
                }
                let text = String(decoding: out, as: UTF8.self)
                guard done else { XCTAssertTrue(g.acceptsPrefix(text)); continue }
                XCTAssertTrue(g.accepts(text), text)
                let v = try JinjaValue.parseJSON(text)
                XCTAssertNil(validator.validate(v), "\(name): \(text)")
            }
        }
    }

    func testGBNFRandomWalks() throws {
        let (tok, trie) = try VocabularyStore.shared.smollm()
        var rng = SplitMix64(seed: 11)
        let grammars = [
            #"root ::= "positive" | "negative" | "neutral""#,
            #"root ::= expr    expr ::= term ([-+] term)*    term ::= [0-9]{1,3} | "(" expr ")""#,
            #"root ::= [a-z]{1,8} ("," [a-z]{1,8}){2}"#,
            #"root ::= "[" (e ("," e)*)? "]"    e ::= [0-9] | root"#,
            #"root ::= [α-ω] [^\x00-\x7F]{1,3} "!""#,
        ]
        for text in grammars {
            let g = try Grammar(gbnf: text)
            for _ in 0..<5 {
                var m = GrammarMatcher(grammar: g)
                var out: [UInt8] = []
                for _ in 0..<200 {
                    let allowed = m.mask(for: trie).allowedIDs
                    XCTAssertFalse(allowed.isEmpty, "\(text): dead end")
                    if allowed.isEmpty { break }
                    let pick = allowed[rng.below(allowed.count)]
                    if tok.isEndOfGeneration(pick) { break }
                    XCTAssertTrue(m.acceptToken(pick, in: trie))
                    out.append(contentsOf: trie.bytes(of: pick))
                }
                if m.isAccepting {
                    XCTAssertTrue(g.accepts(String(decoding: out, as: UTF8.self)), "\(text): \(out)")
                }
            }
        }
    }
}

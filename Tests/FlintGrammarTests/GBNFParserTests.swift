import XCTest
import FlintTestSupport
import FlintGrammar

final class GBNFParserTests: XCTestCase {
    func parses(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> Grammar? {
        do { return try Grammar(gbnf: text) } catch {
            XCTFail("\(error)", file: file, line: line)
            return nil
        }
    }

    func expectError(_ text: String, _ kind: GrammarError.Kind, at loc: (Int, Int)? = nil, contains: String? = nil,
                     file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try Grammar(gbnf: text)
            XCTFail("expected \(kind) for \(text.debugDescription)", file: file, line: line)
        } catch let e as GrammarError {
            XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: line)
            if let loc {
                XCTAssertEqual(e.line, loc.0, "\(e)", file: file, line: line)
                XCTAssertEqual(e.column, loc.1, "\(e)", file: file, line: line)
            }
            if let contains { XCTAssertTrue(e.description.contains(contains), "\(e)", file: file, line: line) }
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
        }
    }

    func testBasicSyntax() throws {
        let g = try XCTUnwrap(parses(#"""
        # a comment
        root ::= greeting " " name   # trailing comment
        greeting ::= "hello" | "hi"
        name ::= [A-Z] [a-z]*
        """#))
        XCTAssertTrue(g.accepts("hello Bob"))
        XCTAssertTrue(g.accepts("hi X"))
        XCTAssertFalse(g.accepts("hey Bob"))
        XCTAssertFalse(g.accepts("hello bob"))
        XCTAssertFalse(g.accepts("hello Bob "))
        XCTAssertTrue(g.acceptsPrefix("hel"))
    }

    func testRepetitionForms() throws {
        let g = try XCTUnwrap(parses(#"root ::= "a"{2} "b"{1,3} "c"{2,} "d"? "e"+ "f"*"#))
        XCTAssertTrue(g.accepts("aabcce"))
        XCTAssertTrue(g.accepts("aabbbcccccdeeeff"))
        XCTAssertFalse(g.accepts("abcce"))
        XCTAssertFalse(g.accepts("aabbbbcce"))
        XCTAssertFalse(g.accepts("aabce"))
        XCTAssertFalse(g.accepts("aabcc"))
        let h = try XCTUnwrap(parses(#"root ::= ("ab" | "c"){0,2} "x""#))
        for s in ["x", "abx", "cx", "abcx", "ccx"] { XCTAssertTrue(h.accepts(s), s) }
        for s in ["abcabx", "ax", "cccx"] { XCTAssertFalse(h.accepts(s), s) }
    }

    func testEscapesAndClasses() throws {
        let g = try XCTUnwrap(parses(#"root ::= "\n\t\r\\\"\x41\u00e9\U0001F600" [\x30-\x39] [^a-z\]] ."#))
        XCTAssertTrue(g.accepts("\n\t\r\\\"Aé😀5Z€"))
        XCTAssertFalse(g.accepts("\n\t\r\\\"Aé😀5]x"))
        XCTAssertTrue(g.accepts("\n\t\r\\\"Aé😀5!x"))
        XCTAssertFalse(g.accepts("\n\t\r\\\"Aé😀5ax"))
        // Classes match whole code points, not bytes.
        let c = try XCTUnwrap(parses(#"root ::= [α-ω]+ [^α-ω]"#))
        XCTAssertTrue(c.accepts("αβγ!"))
        XCTAssertTrue(c.accepts("ω日"))
        XCTAssertFalse(c.accepts("αβγ"))
        XCTAssertFalse(c.accepts("αΩβ"))  // Ω is not in α-ω and the tail is a single char
        // Invalid UTF-8 never matches "any character".
        var m = GrammarMatcher(grammar: try Grammar(gbnf: "root ::= .+"))
        XCTAssertFalse(m.accept(0xFF))
        XCTAssertFalse(m.accept(0x80))
        XCTAssertTrue(m.accept(0xC3))
        XCTAssertFalse(m.isAccepting)
        XCTAssertTrue(m.accept(0xA9))
        XCTAssertTrue(m.isAccepting)
    }

    func testMultilineRulesAndGroups() throws {
        let g = try XCTUnwrap(parses("""
        root ::= item
          | "[" ws (
                item (ws "," ws item)*
            )? ws "]"
        item ::= "x"
            "y"
        ws ::= " "*
        """))
        XCTAssertTrue(g.accepts("xy"))
        XCTAssertTrue(g.accepts("[ xy , xy ]"))
        XCTAssertTrue(g.accepts("[]"))
        XCTAssertFalse(g.accepts("[xy,]"))
    }

    func testEmptyAlternativesAndLiterals() throws {
        let g = try XCTUnwrap(parses(#"root ::= "a" opt "b"    opt ::= | "x" | """#))
        XCTAssertTrue(g.accepts("ab"))
        XCTAssertTrue(g.accepts("axb"))
        XCTAssertFalse(g.accepts("axxb"))
    }

    func testRightRecursionIsFine() throws {
        let g = try XCTUnwrap(parses(#"root ::= "(" root ")" | """#))
        XCTAssertTrue(g.accepts("((()))"))
        XCTAssertTrue(g.accepts(""))
        XCTAssertFalse(g.accepts("(()"))
    }

    func testErrors() {
        expectError("", .emptyGrammar)
        expectError("  # only a comment\n\n", .emptyGrammar)
        expectError(#"root ::= foo"#, .undefinedRule, at: (1, 10), contains: "foo")
        expectError("a ::= \"x\"", .missingRoot)
        expectError("root ::= (\"a\" | \"b\"", .unbalancedParentheses)
        expectError("root ::= \"a\")", .unbalancedParentheses)
        expectError("root ::= \"a\\q\"", .badEscape, at: (1, 12))
        expectError("root ::= \"\\x4\"", .badEscape)
        expectError("root ::= \"\\uD800\"", .badEscape)
        expectError("root ::= \"\\U00110000\"", .badEscape)
        expectError("root ::= \"abc", .syntax, contains: "unterminated")
        expectError("root ::= [abc", .syntax, contains: "unterminated")
        expectError("root ::= []", .syntax)
        expectError("root ::= [z-a]", .syntax)
        expectError("root ::= root \"a\" | \"b\"", .leftRecursion, contains: "root")
        expectError("root ::= a\na ::= b \"x\"\nb ::= \"\" a", .leftRecursion)
        expectError("root ::= (\"a\"?)*", .leftRecursion)
        expectError("root ::= \"a\"{20000}", .badRepetition, contains: "limit")
        expectError("root ::= \"a\"{3,2}", .badRepetition)
        expectError("root ::= \"a\"{x}", .badRepetition)
        expectError("root ::= *", .badRepetition)
        expectError("root ::= \"a\"\nroot ::= \"b\"", .duplicateRule, at: (2, 1))
        expectError("root = \"a\"", .syntax, at: (1, 6))
        expectError("root ::= \"a\" @", .syntax, at: (1, 14))
        expectError("root ::= " + String(repeating: "(", count: 300) + "\"a\"" + String(repeating: ")", count: 300), .tooLarge)
        expectError("root ::= " + String(repeating: "\"a\"{0,10000} ", count: 11), .tooLarge)
        expectError("root ::= " + String(repeating: "\"ab\"{10000} ", count: 201), .tooLarge)
    }

    func testErrorDescriptionsSayWhere() {
        do {
            _ = try Grammar(gbnf: "root ::= x\n\nx ::= \"a\" y")
            XCTFail()
        } catch {
            XCTAssertEqual("\(error)", "grammar error at 3:11: rule 'y' is used but never defined")
        }
    }

    /// Random and mutated grammars must never crash or hang the parser, and
    /// whatever parses must run in the matcher.
    func testFuzzParser() {
        let seeds = [
            #"root ::= "a" | [b-d]+ ("e" | f)* f{2,3}"#, "f ::= \"\\x41\" . [^x]?",
            #"root ::= (x (y | z)?)+ x ::= "\u00e9" y ::= [0-9]{1,} z ::= "\"""#,
            "root ::= \"[\" ws (v (ws \",\" ws v)*)? \"]\"\nv ::= [0-9]+ | root\nws ::= [ \\t\\n]{0,3}",
        ]
        let alphabet = Array(#"root::=|()[]^-*+?{},."\ abxyz019#\n\tuUx"#)
        var rng = SplitMix64(seed: 42)
        var parsed = 0
        for i in 0..<3000 {
            var chars: [Character]
            if i % 3 == 0 {
                chars = (0..<rng.below(60)).map { _ in alphabet[rng.below(alphabet.count)] }
            } else {
                chars = Array(seeds[rng.below(seeds.count)] + "\n" + seeds[rng.below(seeds.count)])
                for _ in 0..<(1 + rng.below(4)) {
                    guard !chars.isEmpty else { break }
                    let p = rng.below(chars.count)
                    switch rng.below(3) {
                    case 0: chars.remove(at: p)
                    case 1: chars.insert(alphabet[rng.below(alphabet.count)], at: p)
                    default: chars[p] = alphabet[rng.below(alphabet.count)]
                    }
                }
            }
            let text = String(chars)
            guard let g = try? Grammar(gbnf: text) else { continue }
            parsed += 1
            var m = GrammarMatcher(grammar: g)
            for _ in 0..<20 { _ = m.accept(UInt8(truncatingIfNeeded: rng.next())) }
            _ = m.isAccepting
        }
        XCTAssertGreaterThan(parsed, 30)
    }
}

import XCTest
import FlintGrammar

final class MatcherTests: XCTestCase {
    func check(_ gbnf: String, accept: [String], reject: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let g = try Grammar(gbnf: gbnf)
        for s in accept { XCTAssertTrue(g.accepts(s), "should accept \(s.debugDescription)", file: file, line: line) }
        for s in reject { XCTAssertFalse(g.accepts(s), "should reject \(s.debugDescription)", file: file, line: line) }
    }

    func testLabelSet() throws {
        try check(#"root ::= "positive" | "negative" | "neutral" | "mixed""#,
                  accept: ["positive", "negative", "neutral", "mixed"],
                  reject: ["", "pos", "positives", "Positive", "neutral ", "mix"])
    }

    func testArithmetic() throws {
        let g = #"""
        root ::= expr
        expr ::= term (ws [-+] ws term)*
        term ::= factor (ws [*/] ws factor)*
        factor ::= number | "(" ws expr ws ")" | "-" factor
        number ::= [0-9]+ ("." [0-9]+)?
        ws ::= " "?
        """#
        try check(g, accept: ["1", "1+2", "3 * (4 - 5.25) / -6", "((1))", "--2", "1 + 2*3"],
                  reject: ["", "1+", "(1", "1 2", "1..2", "()", "1  + 2", "a"])
    }

    func testCSVRow() throws {
        let g = #"""
        root ::= field ("," field)*
        field ::= [^,"\n]* | "\"" ([^"] | "\"\"")* "\""
        """#
        try check(g, accept: ["a,b,c", "", ",,", "\"quoted, with comma\",x", "\"say \"\"hi\"\"\",2", "naïve,日本"],
                  reject: ["a\nb", "\"unterminated", "\"a\"b", "x,\"y"])
    }

    func testNestedLists() throws {
        let g = #"""
        root ::= list
        list ::= "[" (elem ("," elem)*)? "]"
        elem ::= [0-9]+ | list
        """#
        try check(g, accept: ["[]", "[1]", "[1,[2,[3,[]]],4]", "[[[[[[[[[[]]]]]]]]]]"],
                  reject: ["[", "[1,]", "[[1]", "[1]]", "[,]", "1"])
        // Deep nesting stays linear.
        let deep = String(repeating: "[", count: 2000) + String(repeating: "]", count: 2000)
        XCTAssertTrue(try Grammar(gbnf: g).accepts(deep))
    }

    func testMatcherStateAndCopies() throws {
        let g = try Grammar(gbnf: #"root ::= "ab" | "ac" | "a""#)
        var m = GrammarMatcher(grammar: g)
        XCTAssertFalse(m.isAccepting)
        XCTAssertTrue(m.accept(UInt8(ascii: "a")))
        XCTAssertTrue(m.isAccepting)
        var fork = m.clone()
        XCTAssertTrue(fork.accept(UInt8(ascii: "b")))
        XCTAssertTrue(fork.isAccepting)
        XCTAssertFalse(fork.canContinue)
        // The original is unaffected.
        XCTAssertFalse(m.accept(UInt8(ascii: "d")))
        XCTAssertTrue(m.accept(UInt8(ascii: "c")))
        // accept(bytes:) is all or nothing.
        var n = GrammarMatcher(grammar: g)
        XCTAssertFalse(n.accept(string: "ax"))
        XCTAssertTrue(n.accept(string: "ab"))
    }

    func testAmbiguousGrammarStacksStayBounded() throws {
        // Exponentially ambiguous: every split of the a's is a parse.
        let g = try Grammar(gbnf: #"root ::= x* "b"    x ::= "a" | "a" "a" | "a" "a" "a""#)
        let s = String(repeating: "a", count: 500) + "b"
        XCTAssertTrue(g.accepts(s))
        XCTAssertFalse(g.accepts(String(repeating: "a", count: 500)))
    }

    func testManyStatesFlushCache() throws {
        // Distinct nesting depths produce many DFA states; the cache is dropped
        // and rebuilt without breaking live matchers.
        let g = try Grammar(gbnf: #"root ::= "(" root ")" | "x""#)
        var m = GrammarMatcher(grammar: g)
        let depth = GrammarLimits.maxCachedStates + 100
        for _ in 0..<depth { XCTAssertTrue(m.accept(UInt8(ascii: "("))) }
        XCTAssertTrue(m.accept(UInt8(ascii: "x")))
        for _ in 0..<depth { XCTAssertTrue(m.accept(UInt8(ascii: ")"))) }
        XCTAssertTrue(m.isAccepting)
    }

    func testSyntheticVocabularyMask() throws {
        let tokens: [[UInt8]] = ["a", "b", "ab", "abc", "c", "", "ba", "<eos>", "é", "\u{FF}"].map { Array($0.utf8) }
            + [[0xC3]]  // a partial UTF-8 byte token
        let trie = VocabularyTrie(tokens: tokens, endOfGeneration: [7])
        let g = try Grammar(gbnf: #"root ::= "ab" [c-é]*"#)
        var m = GrammarMatcher(grammar: g)
        XCTAssertEqual(m.mask(for: trie).allowedIDs, [0, 2, 3])
        XCTAssertTrue(m.acceptToken(0, in: trie))
        XCTAssertEqual(m.mask(for: trie).allowedIDs, [1])
        XCTAssertFalse(m.acceptToken(7, in: trie))
        XCTAssertTrue(m.acceptToken(1, in: trie))
        // Complete: end of generation allowed; "é" and a lone lead byte too.
        XCTAssertEqual(m.mask(for: trie).allowedIDs, [4, 7, 8, 10])
        XCTAssertTrue(m.acceptToken(10, in: trie))
        XCTAssertEqual(m.mask(for: trie).allowedIDs, [])  // needs a continuation byte
        XCTAssertFalse(m.acceptToken(5, in: trie))

        var logits = [Float](repeating: 1, count: tokens.count + 3)
        let mask = GrammarMatcher(grammar: g).mask(for: trie)
        logits.withUnsafeMutableBufferPointer { mask.apply(to: $0) }
        XCTAssertEqual(logits.map { $0.isFinite }, [true, false, true, true] + [Bool](repeating: false, count: tokens.count - 1))
    }
}

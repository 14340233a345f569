import FlintServer
import XCTest

/// Splitting model output into content and tool calls, fed whole and in every split.
final class ToolCallParserTests: XCTestCase {
    private typealias Output = ToolCallParser.Output

    private func parser(_ syntax: ToolCallSyntax) -> ToolCallParser {
        let counter = Counter()
        return ToolCallParser(syntax: syntax, makeID: { "call_\(counter.next())" })
    }

    /// Content pieces joined, calls as they come.
    private func normalized(_ outputs: [Output]) -> (content: String, calls: [ToolCall]) {
        var content = "", calls: [ToolCall] = []
        for o in outputs {
            switch o {
            case .content(let t): content += t
            case .call(let c): calls.append(c)
            }
        }
        return (content, calls)
    }

    /// Parses `text` in one piece, then split at every position into two feeds, and
    /// character by character: the result must not depend on how the text streams in.
    private func parse(_ text: String, _ syntax: ToolCallSyntax = .hermes,
                       file: StaticString = #filePath, line: UInt = #line) -> (content: String, calls: [ToolCall]) {
        var p = parser(syntax)
        let whole = normalized(p.feed(text) + p.finish())
        let chars = Array(text)
        for cut in 0...chars.count {
            var q = parser(syntax)
            let r = normalized(q.feed(String(chars[..<cut])) + q.feed(String(chars[cut...])) + q.finish())
            XCTAssertEqual(r.content, whole.content, "split at \(cut)", file: file, line: line)
            XCTAssertEqual(r.calls, whole.calls, "split at \(cut)", file: file, line: line)
        }
        var q = parser(syntax)
        var outputs: [Output] = []
        for c in chars { outputs += q.feed(String(c)) }
        let r = normalized(outputs + q.finish())
        XCTAssertEqual(r.content, whole.content, "char by char", file: file, line: line)
        XCTAssertEqual(r.calls, whole.calls, "char by char", file: file, line: line)
        return whole
    }

    func testHermesCallsAfterText() {
        let r = parse("Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
                      + "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>")
        XCTAssertEqual(r.content, "Let me check.")
        XCTAssertEqual(r.calls, [ToolCall(id: "call_1", name: "get_weather", arguments: #"{"city": "Paris"}"#),
                                 ToolCall(id: "call_2", name: "get_time", arguments: "{}")])
    }

    func testHermesPlainTextStaysContent() {
        let text = "No tools needed: 3 < 4, and <tool is not a tag.\n"
        let r = parse(text)
        XCTAssertEqual(r.content, text)
        XCTAssertTrue(r.calls.isEmpty)
    }

    func testHermesBareAndFencedCalls() {
        for text in ["{\"name\": \"f\", \"arguments\": {\"a\": 1}}", "  ```json\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n```"] {
            let r = parse(text)
            XCTAssertEqual(r.content, "", text)
            XCTAssertEqual(r.calls.map(\.name), ["f"], text)
            XCTAssertEqual(r.calls.first?.arguments, #"{"a": 1}"#, text)
        }
        // JSON that is not a call, and a code fence of another language, stay content.
        XCTAssertEqual(parse(#"{"city": "Paris"}"#).content, #"{"city": "Paris"}"#)
        XCTAssertEqual(parse("```python\nprint(1)\n```").content, "```python\nprint(1)\n```")
    }

    func testHermesBrokenCallsStayContent() {
        let broken = "<tool_call>\n{\"name\": \"f\", \"arguments\": [1]}\n</tool_call>"
        XCTAssertEqual(parse(broken).content, broken)
        XCTAssertTrue(parse(broken).calls.isEmpty)
        let unterminated = "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": \"b\"}}"
        XCTAssertEqual(parse(unterminated).calls.map(\.arguments), [#"{"a": "b"}"#])
        XCTAssertEqual(parse("<tool_call>\n{\"name\": ").content, "<tool_call>\n{\"name\": ")
    }

    func testArgumentsGivenAsAString() {
        let r = parse(#"<tool_call>{"name": "f", "arguments": "{\"x\": true}"}</tool_call>"#)
        XCTAssertEqual(r.calls.map(\.arguments), [#"{"x": true}"#])
    }

    func testJSONSyntax() {
        let calls = parse(#"{"tool_calls": [{"name": "a", "arguments": {"k": [1, 2]}}, {"name": "b", "arguments": {}}]}"#, .json)
        XCTAssertEqual(calls.calls.map(\.name), ["a", "b"])
        XCTAssertEqual(calls.calls.first?.arguments, #"{"k": [1, 2]}"#)
        XCTAssertEqual(calls.content, "")
        let answer = parse(#"{"response": "It is sunny \u2600"}"#, .json)
        XCTAssertEqual(answer.content, "It is sunny \u{2600}")
        XCTAssertTrue(answer.calls.isEmpty)
        XCTAssertEqual(parse("not json", .json).content, "not json")
    }

    func testSyntaxFromTemplate() {
        XCTAssertEqual(ToolCallSyntax(templateSource: "{% if tools %}<tool_call>{% endif %}"), .hermes)
        XCTAssertEqual(ToolCallSyntax(templateSource: "{% for m in messages %}{{ m.content }}{% endfor %}"), .json)
    }
}

private final class Counter: @unchecked Sendable {
    private var n = 0
    func next() -> Int { n += 1; return n }
}

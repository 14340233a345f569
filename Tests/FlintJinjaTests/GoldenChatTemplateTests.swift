import FlintJinja
import FlintTokenizers
import Foundation
import XCTest

/// Renders the real model chat templates and compares with the reference
/// renderings in Tests/Fixtures/llamacpp-reference.json.
final class GoldenChatTemplateTests: XCTestCase {
    static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    static func fixture(_ name: String) throws -> String {
        try String(contentsOf: here.appendingPathComponent("Fixtures").appendingPathComponent(name), encoding: .utf8)
    }

    static func reference() throws -> JinjaValue {
        let url = here.appendingPathComponent("../Fixtures/llamacpp-reference.json")
        return try JinjaValue.parseJSON(try Data(contentsOf: url))
    }

    private func runCases(model: String, templateFile: String, expectedCount: Int) throws {
        let template = try ChatTemplate(source: try Self.fixture(templateFile), bosToken: "", eosToken: "")
        let ref = try Self.reference()
        guard case .array(let cases)? = ref[model]?["chat"] else {
            return XCTFail("no chat cases for \(model)")
        }
        XCTAssertEqual(cases.count, expectedCount)
        for (i, c) in cases.enumerated() {
            guard case .array(let msgs)? = c["messages"], case .string(let expected)? = c["rendered"] else {
                XCTFail("malformed case \(i)"); continue
            }
            let messages = msgs.compactMap(ChatMessage.init(json:))
            XCTAssertEqual(messages.count, msgs.count)
            let tools = c["tools"]?.arrayValue
            let rendered = try template.render(messages: messages, tools: tools, addGenerationPrompt: true)
            XCTAssertEqual(rendered, expected, "\(model) case \(i)")
        }
    }

    func testSmolLM2() throws {
        try runCases(model: "smollm2-135m-instruct-q4_1", templateFile: "smollm2-135m-instruct.jinja", expectedCount: 2)
    }

    func testQwen25Coder() throws {
        try runCases(model: "qwen2.5-coder-0.5b-instruct", templateFile: "qwen2.5-coder-0.5b-instruct.jinja", expectedCount: 3)
    }

    func testQwenToolCallsAndToolResponses() throws {
        let template = try ChatTemplate(source: try Self.fixture("qwen2.5-coder-0.5b-instruct.jinja"))
        let call: JinjaValue = ["type": "function", "function": ["name": "get_weather", "arguments": ["city": "Paris", "unit": "c"]]]
        let messages = [
            ChatMessage.user("Weather?"),
            ChatMessage(role: "assistant", content: nil, toolCalls: [call]),
            ChatMessage(role: "tool", content: "{\"temp\": 21}", toolCallId: "1"),
            ChatMessage(role: "tool", content: "sunny", toolCallId: "2"),
        ]
        // Expected output verified with Python jinja2 (HF settings).
        let expected = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nWeather?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"c\"}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n{\"temp\": 21}\n</tool_response>\n<tool_response>\nsunny\n</tool_response><|im_end|>\n"
        XCTAssertEqual(try template.render(messages: messages, addGenerationPrompt: false), expected)
    }

    func testChatMLFallback() throws {
        let out = try ChatTemplate.chatML.render(messages: [.system("S"), .user("Hi")])
        XCTAssertEqual(out, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        let noPrompt = try ChatTemplate.chatML.render(messages: [.user("Hi")], addGenerationPrompt: false)
        XCTAssertEqual(noPrompt, "<|im_start|>user\nHi<|im_end|>\n")
    }

    func testChatTemplateErrorsAreTyped() throws {
        let t = try ChatTemplate(source: "{% if messages[0].role != 'system' %}{{ raise_exception('System message required') }}{% endif %}")
        XCTAssertThrowsError(try t.render(messages: [.user("x")])) { error in
            guard case ChatTemplateError.rejected(let message) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(message, "System message required")
        }
        XCTAssertThrowsError(try ChatTemplate(source: "{% if %}")) { error in
            guard case ChatTemplateError.invalidTemplate = error else { return XCTFail("\(error)") }
        }
        let bad = try ChatTemplate(source: "{{ messages | nosuchfilter }}")
        XCTAssertThrowsError(try bad.render(messages: [])) { error in
            guard case ChatTemplateError.renderFailed(.unknownFilter("nosuchfilter")) = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("nosuchfilter"))
        }
    }

    func testMessageKeyOrderAndContext() throws {
        let t = try ChatTemplate(source: "{{ messages[0] | tojson }}|{{ bos_token }}|{{ eos_token }}|{{ tools }}|{{ foo }}", bosToken: "<s>", eosToken: "</s>")
        let m = ChatMessage(role: "tool", content: "r", name: "fn", toolCallId: "abc")
        let out = try t.render(messages: [m], extraContext: ["foo": "bar"])
        XCTAssertEqual(out, "{\"role\": \"tool\", \"content\": \"r\", \"name\": \"fn\", \"tool_call_id\": \"abc\"}|<s>|</s>|None|bar")
    }
}

final class ChatMessageTests: XCTestCase {
    func testMessageFromOpenAIJSON() throws {
        let json = try JinjaValue.parseJSON(#"""
        {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
          "function": {"name": "f", "arguments": "{\"b\": 1, \"a\": [true]}"}}], "reasoning_content": "hmm"}
        """#)
        let m = try XCTUnwrap(ChatMessage(json: json))
        XCTAssertEqual(m.role, "assistant")
        XCTAssertNil(m.content)
        XCTAssertEqual(m.extra["reasoning_content"], "hmm")
        let t = try Template("{{ m.tool_calls[0].function.arguments|tojson }}|{{ m.content }}|{{ m|list }}")
        XCTAssertEqual(try t.render(["m": m.jinjaValue]),
                       #"{"b": 1, "a": [true]}|None|['role', 'content', 'tool_calls', 'reasoning_content']"#)
        let parts = try XCTUnwrap(ChatMessage(json: try JinjaValue.parseJSON(
            #"{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "text", "text": "b"}]}"#)))
        XCTAssertEqual(parts.content, "ab")
        XCTAssertNil(ChatMessage(json: ["content": "no role"]))
    }
}

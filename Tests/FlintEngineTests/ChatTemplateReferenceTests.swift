import FlintEngine
import FlintJinja
import FlintTestSupport
import FlintTokenizers
import Foundation
import XCTest

/// Every `chat.rendered` string of the llama.cpp reference, rendered from the
/// template stored in each real GGUF file.
final class ChatTemplateReferenceTests: XCTestCase {
    func testRenderedPromptsMatchReference() throws {
        let data = try Data(contentsOf: Golden.referenceURL)
        guard case .object(let root) = try JinjaValue.parseJSON(data) else { return XCTFail("reference is not an object") }
        var checked = 0
        for (key, name) in Golden.models {
            let loaded = try LoadedModel(path: try TestModels.path(name))
            guard case .array(let cases)? = root[key]?["chat"] else { continue }
            for c in cases {
                guard case .array(let rawMessages)? = c["messages"], case .string(let expected)? = c["rendered"] else {
                    return XCTFail("malformed chat case for \(key)")
                }
                let messages = try rawMessages.map { m -> ChatMessage in
                    guard let msg = ChatMessage(json: m) else { throw CocoaError(.coderInvalidValue) }
                    return msg
                }
                var tools: [JinjaValue]?
                if case .array(let t)? = c["tools"] { tools = t }
                let rendered = try loaded.chatTemplate.render(messages: messages, tools: tools)
                XCTAssertEqual(rendered, expected, "\(name): chat case \(checked)")
                checked += 1
            }
        }
        XCTAssertEqual(checked, 5, "the reference has 2 SmolLM2 and 3 Qwen chat cases")
    }
}

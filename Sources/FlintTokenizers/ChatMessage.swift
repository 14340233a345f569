import FlintJinja

/// One message of a chat conversation, as passed to a chat template.
public struct ChatMessage: Sendable, Equatable {
    /// "system", "user", "assistant" or "tool".
    public var role: String
    /// Text content; `nil` renders as `None` (e.g. an assistant message that only calls tools).
    public var content: String?
    /// Optional participant / function name.
    public var name: String?
    /// Tool calls made by an assistant message, e.g.
    /// `[{"type": "function", "function": {"name": ..., "arguments": {...}}}]`
    /// with `arguments` as a parsed object (as Hugging Face templates expect).
    public var toolCalls: JinjaValue?
    /// For role "tool": the id of the call this message answers.
    public var toolCallId: String?
    /// Any further keys (e.g. `reasoning_content`), rendered after the standard ones in this order.
    public var extra: JinjaObject

    public init(role: String, content: String?, name: String? = nil, toolCalls: JinjaValue? = nil,
                toolCallId: String? = nil, extra: JinjaObject = JinjaObject()) {
        self.role = role
        self.content = content
        self.name = name
        self.toolCalls = toolCalls
        self.toolCallId = toolCallId
        self.extra = extra
    }

    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: "system", content: content) }
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: "user", content: content) }
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(role: "assistant", content: content) }

    /// The message as a template value: keys `role`, `content`, then `name`,
    /// `tool_calls`, `tool_call_id` when present, then `extra`.
    public var jinjaValue: JinjaValue {
        var obj = JinjaObject()
        obj["role"] = .string(role)
        obj["content"] = content.map { JinjaValue.string($0) } ?? JinjaValue.none
        if let name { obj["name"] = .string(name) }
        if let toolCalls { obj["tool_calls"] = toolCalls }
        if let toolCallId { obj["tool_call_id"] = .string(toolCallId) }
        for (k, v) in extra where obj[k] == nil { obj[k] = v }
        return .object(obj)
    }

    /// Builds a message from a parsed JSON object (OpenAI / Hugging Face
    /// message shape). Unknown keys go to `extra`. Tool-call `arguments`
    /// given as a JSON string are parsed into an object when possible.
    /// Content given as a list of parts becomes the concatenation of its
    /// text parts (other part types are dropped).
    public init?(json: JinjaValue) {
        guard case .object(let o) = json, case .string(let role)? = o["role"] else { return nil }
        self.role = role
        switch o["content"] {
        case .string(let s)?: self.content = s
        case .none?, nil: self.content = nil
        case .array(let parts)?:
            // OpenAI content parts: the text parts, concatenated in order.
            self.content = parts.compactMap { part -> String? in
                if case .string(let s) = part { return s }
                guard part["type"]?.stringValue == "text" else { return nil }
                return part["text"]?.stringValue
            }.joined()
        case let other?: self.content = other.pythonString
        }
        self.name = o["name"]?.stringValue
        self.toolCallId = o["tool_call_id"]?.stringValue
        if let calls = o["tool_calls"], case .array(let items) = calls {
            self.toolCalls = .array(items.map(ChatMessage.normalizeToolCall))
        } else {
            self.toolCalls = nil
        }
        var extra = JinjaObject()
        for (k, v) in o where !["role", "content", "name", "tool_calls", "tool_call_id"].contains(k) { extra[k] = v }
        self.extra = extra
    }

    private static func normalizeToolCall(_ call: JinjaValue) -> JinjaValue {
        guard case .object(var o) = call, case .object(var f)? = o["function"],
              case .string(let args)? = f["arguments"], let parsed = try? JinjaValue.parseJSON(args) else { return call }
        f["arguments"] = parsed
        o["function"] = .object(f)
        return .object(o)
    }
}

import FlintJinja

/// One parsed function call of an assistant message.
public struct ToolCall: Equatable, Sendable {
    public let id: String
    public let name: String
    /// The arguments as a JSON object text (what OpenAI's `function.arguments` holds).
    public let arguments: String

    public init(id: String, name: String, arguments: String) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}

/// Splits a completion's text, as it streams in, into plain content and tool calls in the
/// model's syntax. Text that might still become a call is held back until it is decided;
/// a call that does not parse stays content.
public struct ToolCallParser: Sendable {
    public enum Output: Equatable, Sendable {
        case content(String)
        case call(ToolCall)
    }

    public let syntax: ToolCallSyntax
    private var buffer = ""
    private var inCall = false
    /// Hermes only: whether the answer may still turn out to be a bare JSON call (no tags),
    /// and whether it is one.
    private var start = Start.undecided
    private enum Start { case undecided, text, bareCall }
    /// Whitespace seen after content, kept until more content follows (whitespace
    /// around calls is layout, not content).
    private var pendingSpace = ""
    public private(set) var callCount = 0
    private var afterCall = false
    private let makeID: @Sendable () -> String

    /// `makeID` names each call (default: "call_" and 24 random hex digits).
    public init(syntax: ToolCallSyntax, makeID: (@Sendable () -> String)? = nil) {
        self.syntax = syntax
        self.makeID = makeID ?? { ResponseID.make("call_") }
    }

    public mutating func feed(_ text: String) -> [Output] {
        buffer += text
        guard syntax == .hermes else { return [] }  // The JSON form is decided at the end.
        if start == .undecided { start = Self.classifyStart(buffer) }
        guard start == .text else { return [] }  // A bare call is parsed at the end.
        var out: [Output] = []
        while true {
            if !inCall {
                if let r = buffer.range(of: ToolCallSyntax.callOpen) {
                    content(String(buffer[..<r.lowerBound]), into: &out)
                    pendingSpace = ""
                    buffer = String(buffer[r.upperBound...])
                    inCall = true
                    continue
                }
                // Keep a tail that may be the start of an opening tag.
                let keep = Self.partialSuffix(of: buffer, prefixOf: ToolCallSyntax.callOpen)
                content(String(buffer.dropLast(keep)), into: &out)
                buffer = String(buffer.suffix(keep))
                return out
            }
            guard let r = buffer.range(of: ToolCallSyntax.callClose) else { return out }
            let body = String(buffer[..<r.lowerBound])
            buffer = String(buffer[r.upperBound...])
            inCall = false
            if let call = parseCall(body) {
                out.append(.call(call))
            } else {
                content(ToolCallSyntax.callOpen + body + ToolCallSyntax.callClose, into: &out)
            }
        }
    }

    /// Whatever is still held back, at the end of the completion.
    public mutating func finish() -> [Output] {
        var out: [Output] = []
        let rest = buffer
        buffer = ""
        switch syntax {
        case .hermes where start != .text:
            if let call = parseCall(Self.unfenced(rest)) { out.append(.call(call)) } else if !rest.isEmpty { out.append(.content(rest)) }
        case .hermes:
            if inCall {
                // Models sometimes stop without the closing tag.
                if let call = parseCall(rest) { out.append(.call(call)) } else { content(ToolCallSyntax.callOpen + rest, into: &out) }
            } else {
                content(rest, into: &out)
            }
            if callCount == 0 && !pendingSpace.isEmpty { out.append(.content(pendingSpace)) }
        case .json:
            out = parseJSONAnswer(rest)
        }
        pendingSpace = ""
        return out
    }

    private mutating func content(_ text: String, into out: inout [Output]) {
        // Whitespace between calls, or between text and a call, is layout.
        let text = afterCall ? String(text.drop(while: \.isWhitespace)) : text
        let body = String(text.reversed().drop(while: \.isWhitespace).reversed())
        guard !body.isEmpty else {
            pendingSpace += text
            return
        }
        out.append(.content(pendingSpace + body))
        pendingSpace = String(text.dropFirst(body.count))
        afterCall = false
    }

    /// `{"tool_calls": [...]}` gives calls, `{"response": "..."}` content, anything else
    /// is returned as it is.
    private mutating func parseJSONAnswer(_ text: String) -> [Output] {
        guard let value = try? JinjaValue.parseJSON(text), case .object(let o) = value else {
            return text.isEmpty ? [] : [.content(text)]
        }
        if case .array(let items)? = o["tool_calls"] {
            var calls: [ToolCall] = []
            for item in items { if let c = call(from: item) { calls.append(c) } }
            if calls.count == items.count && !calls.isEmpty { return calls.map(Output.call) }
        }
        if case .string(let s)? = o["response"], o.count == 1 { return [.content(s)] }
        return [.content(text)]
    }

    private mutating func parseCall(_ body: String) -> ToolCall? {
        guard let value = try? JinjaValue.parseJSON(body) else { return nil }
        return call(from: value)
    }

    /// `{"name": ..., "arguments": {...}}` (or "parameters", or arguments as a JSON string).
    private mutating func call(from value: JinjaValue) -> ToolCall? {
        guard case .object(let o) = value, let name = o["name"]?.stringValue, !name.isEmpty else { return nil }
        let arguments: String
        switch o["arguments"] ?? o["parameters"] ?? .object([:]) {
        case .string(let s):
            guard (try? JinjaValue.parseJSON(s))?.objectValue != nil else { return nil }
            arguments = s
        case let v:
            guard v.objectValue != nil, let s = try? v.toJSON() else { return nil }
            arguments = s
        }
        callCount += 1
        afterCall = true
        pendingSpace = ""
        return ToolCall(id: makeID(), name: name, arguments: arguments)
    }

    /// Whether an answer starting with `text` is a bare call (`{"name"`, maybe in a json
    /// code fence), is not one, or cannot tell yet.
    private static func classifyStart(_ text: String) -> Start {
        let compact = text.unicodeScalars.filter { !$0.properties.isWhitespace }.map(Character.init)
        guard !compact.isEmpty else { return .undecided }
        var possible = false
        for p in ToolCallSyntax.bareCallPrefixes {
            if compact.starts(with: p) { return .bareCall }
            if p.starts(with: compact) { possible = true }
        }
        return possible ? .undecided : .text
    }

    /// The text inside a json code fence, or the text itself.
    private static func unfenced(_ text: String) -> String {
        var t = text.trimmingWhitespace()
        guard t.hasPrefix("```") else { return t }
        t = String(t.dropFirst(3))
        if t.hasPrefix("json") { t = String(t.dropFirst(4)) }
        if t.hasSuffix("```") { t = String(t.dropLast(3)) }
        return t
    }

    /// Length of the longest suffix of `text` that is a proper prefix of `tag`.
    static func partialSuffix(of text: String, prefixOf tag: String) -> Int {
        let t = Array(text.utf8.suffix(tag.utf8.count - 1)), g = Array(tag.utf8)
        for n in stride(from: t.count, through: 1, by: -1) where t.suffix(n).elementsEqual(g.prefix(n)) {
            // In characters: the tag is ASCII, so bytes and characters agree.
            return n
        }
        return 0
    }
}

private extension String {
    func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}

/// How a model writes tool calls, decided from its chat template.
public enum ToolCallSyntax: Sendable, Equatable {
    /// Qwen 2.5 / Hermes: the template renders `tools` itself and the model answers
    /// `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`, possibly after text.
    case hermes
    /// Templates without tool support: the tools are described in a system message and
    /// the whole answer is one JSON object, `{"tool_calls": [{"name", "arguments"}]}` or
    /// `{"response": "..."}` — always constrained by a grammar, so it always parses.
    case json

    static let callOpen = "<tool_call>"
    static let callClose = "</tool_call>"
    /// How an answer that is a bare call starts (whitespace aside).
    static let bareCallPrefixes = [#"{"name""#, #"```json{"name""#]

    public init(templateSource: String) {
        self = templateSource.contains(Self.callOpen) && templateSource.contains("tools") ? .hermes : .json
    }
}

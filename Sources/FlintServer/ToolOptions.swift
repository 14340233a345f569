import FlintEngine
import FlintGrammar
import FlintJinja
import FlintTokenizers

/// `tool_choice`.
enum ToolChoice: Equatable {
    case none, auto, required
    case function(String)
}

/// A request's `tools`, `tool_choice` and `parallel_tool_calls`, validated, and what they
/// mean for the prompt and for the grammar the output must follow.
struct ToolOptions {
    struct Function {
        let name: String
        let parameters: JinjaValue
    }

    /// The tools as the client sent them (what a template renders).
    let tools: [JinjaValue]
    let functions: [Function]
    let choice: ToolChoice
    let parallel: Bool

    /// Tools take part in this request (given, and tool_choice is not "none").
    var isActive: Bool { !functions.isEmpty && choice != .none }

    /// Reads and checks the tool fields; each parameter schema must compile.
    init(_ f: RequestFields) throws(APIError) {
        let raw = try f.array("tools") ?? []
        guard raw.count <= 128 else { throw APIError.invalid("'tools' has more than 128 entries", param: "tools") }
        var functions: [Function] = []
        for (i, tool) in raw.enumerated() {
            let param = "tools[\(i)]"
            guard case .object(let o) = tool else { throw APIError.invalid("'\(param)' must be an object", param: param) }
            guard o["type"]?.stringValue == "function" else {
                throw APIError.invalid("'\(param).type' must be \"function\"", param: "\(param).type")
            }
            guard case .object(let fn)? = o["function"] else {
                throw APIError.invalid("'\(param).function' must be an object", param: "\(param).function")
            }
            guard let name = fn["name"]?.stringValue, Self.isValidName(name) else {
                throw APIError.invalid("'\(param).function.name' must be 1 to 64 letters, digits, '_' or '-'",
                                       param: "\(param).function.name")
            }
            guard !functions.contains(where: { $0.name == name }) else {
                throw APIError.invalid("'tools' has two functions named '\(name)'", param: "\(param).function.name")
            }
            var parameters = fn["parameters"] ?? .none
            if parameters.isNone { parameters = .object(["type": .string("object"), "properties": .object([:])]) }
            guard parameters.objectValue != nil else {
                throw APIError.invalid("'\(param).function.parameters' must be a JSON schema object",
                                       param: "\(param).function.parameters")
            }
            do { _ = try JSONSchemaCompiler.gbnf(schema: parameters) } catch {
                throw APIError.invalid("Invalid JSON schema in '\(param).function.parameters': \(error)",
                                       param: "\(param).function.parameters")
            }
            functions.append(Function(name: name, parameters: parameters))
        }
        tools = raw
        self.functions = functions
        parallel = try f.bool("parallel_tool_calls") ?? true
        choice = try Self.choice(f, functions: functions)
    }

    private static func choice(_ f: RequestFields, functions: [Function]) throws(APIError) -> ToolChoice {
        let param = "tool_choice"
        let choice: ToolChoice
        guard f.has(param) else { return functions.isEmpty ? .none : .auto }
        if let o = try? f.object(param) {
            guard o["type"]?.stringValue == "function", let name = o["function"]?["name"]?.stringValue else {
                throw APIError.invalid("'tool_choice' must be {\"type\": \"function\", \"function\": {\"name\": ...}}", param: param)
            }
            guard functions.contains(where: { $0.name == name }) else {
                throw APIError.invalid("'tool_choice' names the function '\(name)', which is not in 'tools'", param: param)
            }
            choice = .function(name)
        } else {
            switch try f.string(param)! {
            case "none": return .none
            case "auto": choice = .auto
            case "required": choice = .required
            case let other:
                throw APIError.invalid("'tool_choice' must be \"none\", \"auto\", \"required\" or a function; got \"\(other)\"", param: param)
            }
        }
        guard !functions.isEmpty || choice == .auto else {
            throw APIError.invalid("'tool_choice' needs 'tools'", param: param)
        }
        return choice
    }

    static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { $0.isASCIIAlphanumeric || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    // MARK: prompt

    /// The conversation as the template should see it. Hermes templates render tools
    /// themselves; for the others the tools and the answer format go into the system
    /// message, and earlier assistant tool calls are written back in that JSON format
    /// (also when this turn uses no tools: those templates cannot render `tool_calls`).
    func prepare(_ messages: [ChatMessage], syntax: ToolCallSyntax) -> (messages: [ChatMessage], tools: [JinjaValue]?) {
        if syntax == .hermes { return (messages, isActive ? tools : nil) }
        var out = messages.map(Self.writingCallsAsJSON)
        guard isActive else { return (out, nil) }
        let instructions = systemInstructions()
        if let first = out.first, first.role == "system" {
            out[0].content = instructions + "\n\n" + (first.content ?? "")
        } else {
            out.insert(.system(instructions), at: 0)
        }
        return (out, nil)
    }

    private func systemInstructions() -> String {
        let listing = tools.compactMap { $0["function"].flatMap { try? $0.toJSON() } }.joined(separator: "\n")
        var text = "You can call these tools (each given with a JSON schema of its arguments):\n\(listing)\n\n"
        text += "To call tools, reply with only a JSON object of the form "
        text += #"{"tool_calls": [{"name": "<tool name>", "arguments": {<arguments>}}]}."#
        if choice == .auto { text += #" To answer without calling a tool, reply with {"response": "<your answer>"}."# }
        return text
    }

    private static func writingCallsAsJSON(_ m: ChatMessage) -> ChatMessage {
        guard m.role == "assistant", case .array(let calls)? = m.toolCalls else { return m }
        var m = m
        let items: [JinjaValue] = calls.map { call in
            let fn = call["function"] ?? .none
            return .object(["name": fn["name"] ?? .none, "arguments": fn["arguments"] ?? .object([:])])
        }
        m.content = (try? JinjaValue.object(["tool_calls": .array(items)]).toJSON()) ?? m.content
        m.toolCalls = nil
        return m
    }

    // MARK: grammar

    /// What constrains the output: nil for free text; otherwise a grammar, which for
    /// Hermes' "auto" starts only after the model opens a call (`trigger`).
    struct Constraint {
        let grammar: Grammar
        let trigger: GrammarTrigger?
    }

    func constraint(syntax: ToolCallSyntax, tokenizer: Tokenizer) throws(APIError) -> Constraint? {
        guard isActive else { return nil }
        let allowed = functions.filter { if case .function(let n) = choice { $0.name == n } else { true } }
        let call: JinjaValue = allowed.count == 1 ? Self.callSchema(allowed[0])
            : .object(["anyOf": .array(allowed.map(Self.callSchema))])
        let many = parallel && {
            if case .function = choice { return false } else { return true }
        }()
        do {
            switch syntax {
            case .json:
                var list: JinjaObject = ["type": "array", "items": call, "minItems": 1]
                if !many { list["maxItems"] = 1 }
                let calls: JinjaValue = Self.closedObject(["tool_calls": .object(list)])
                let schema = choice == .auto
                    ? JinjaValue.object(["anyOf": [calls, Self.closedObject(["response": .object(["type": "string"])])]])
                    : calls
                return Constraint(grammar: try JSONSchemaCompiler.compile(schema: schema), trigger: nil)
            case .hermes:
                let open = gbnfLiteral(ToolCallSyntax.callOpen + "\n"), close = gbnfLiteral("\n" + ToolCallSyntax.callClose)
                let more = many ? " (\(gbnfLiteral("\n")) \(open) call \(close))*" : ""
                let body = try JSONSchemaCompiler.gbnf(schema: call, rootName: "call")
                let tagged = "\(open) call \(close)\(more)"
                guard choice == .auto else { return Constraint(grammar: try Grammar(gbnf: "root ::= \(tagged)\n" + body), trigger: nil) }
                // "auto": free text until the model opens a call, then the call must parse. Small
                // models (Qwen 2.5 Coder) often leave out the tags and answer with the bare
                // JSON call, or one in a json code fence: those start the grammar too.
                let fenced = "\(gbnfLiteral("```json")) ws call \(gbnfLiteral("```"))"
                let grammar = try Grammar(gbnf: "root ::= \(tagged) | \(fenced) | call\n" + body)
                return Constraint(grammar: grammar, trigger: GrammarTrigger(words: [ToolCallSyntax.callOpen],
                                                                            prefixes: ToolCallSyntax.bareCallPrefixes))
            }
        } catch {
            throw APIError.invalid("The tools' parameter schemas do not give a usable grammar: \(error)", param: "tools")
        }
    }

    /// `{"name": <const>, "arguments": <parameters>}`, in that order, nothing else.
    private static func callSchema(_ f: Function) -> JinjaValue {
        closedObject(["name": .object(["const": .string(f.name)]), "arguments": f.parameters])
    }

    private static func closedObject(_ properties: JinjaObject) -> JinjaValue {
        .object(["type": "object", "properties": .object(properties),
                 "required": .array(properties.pairs.map { .string($0.key) }), "additionalProperties": false])
    }
}

private extension UInt8 {
    var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}

import FlintEngine
import FlintJinja
import FlintTokenizers
import Hummingbird

/// POST /v1/chat/completions.
struct ChatCompletionsController<Engine: InferenceEngine>: Sendable {
    let engine: Engine
    let maxBodyBytes: Int
    let cancelOnDisconnect: Bool

    func addRoutes(to router: Router<FlintRequestContext>) {
        router.post("/v1/chat/completions") { request, context in
            try await context.cancellingWhenClientLeaves(enabled: cancelOnDisconnect) { try await create(request, context: context) }
        }
    }

    static var roles: Set<String> { ["system", "developer", "user", "assistant", "tool"] }

    /// A message of the request, validated; content may be a string or a list of text parts.
    static func message(_ value: JinjaValue, at i: Int) throws(APIError) -> ChatMessage {
        let param = "messages[\(i)]"
        guard case .object(let o) = value else { throw APIError.invalid("'\(param)' must be an object", param: param) }
        guard case .string(let role)? = o["role"] else { throw APIError.invalid("'\(param).role' must be a string", param: "\(param).role") }
        guard roles.contains(role) else {
            throw APIError.invalid("'\(param).role' must be one of system, developer, user, assistant, tool; got '\(role)'", param: "\(param).role")
        }
        switch o["content"] {
        case .string?: break
        case .none?, nil:
            guard role == "assistant" else { throw APIError.invalid("'\(param).content' is required", param: "\(param).content") }
        case .array(let parts)?:
            for part in parts {
                guard case .object(let p) = part, p["type"]?.stringValue == "text", p["text"]?.stringValue != nil else {
                    throw APIError.invalid("'\(param).content' parts must be {\"type\": \"text\", \"text\": string}", param: "\(param).content")
                }
            }
        default:
            throw APIError.invalid("'\(param).content' must be a string or a list of text parts", param: "\(param).content")
        }
        guard var m = ChatMessage(json: value) else { throw APIError.invalid("'\(param)' is not a valid message", param: param) }
        if m.role == "developer" { m.role = "system" }
        return m
    }

    private func create(_ request: Request, context: FlintRequestContext) async throws -> Response {
        let f = try await request.body.fields(limit: maxBodyBytes)
        let adapter = try ModelResolution.lease(f, engine: engine)
        let options = try GenerationOptions(f)
        guard let raw = try f.array("messages") else { throw APIError.invalid("'messages' is required", param: "messages") }
        guard !raw.isEmpty else { throw APIError.invalid("'messages' must contain at least one message", param: "messages") }
        guard raw.count <= 4096 else { throw APIError.invalid("'messages' has more than 4096 messages", param: "messages") }
        var messages: [ChatMessage] = []
        for (i, v) in raw.enumerated() { messages.append(try Self.message(v, at: i)) }
        let tools = try ToolOptions(f)
        if tools.isActive && options.grammar != nil {
            throw APIError.invalid("'response_format' cannot be combined with 'tools' unless 'tool_choice' is \"none\"",
                                   param: "response_format")
        }
        let wantLogprobs = try f.bool("logprobs") ?? false
        let top = try f.int("top_logprobs")
        if top != nil && !wantLogprobs {
            throw APIError.invalid("'top_logprobs' requires 'logprobs' to be true", param: "top_logprobs")
        }
        let syntax = ToolCallSyntax(templateSource: engine.chatTemplateSource)
        let conversation = tools.prepare(messages, syntax: syntax)
        let prompt: [Int32]
        do { prompt = try engine.encodeChat(conversation.messages, tools: conversation.tools) } catch {
            throw APIError.invalid("The chat template could not render these messages: \(error)", param: "messages")
        }
        var generation = try options.request(prompt: prompt, maxModelLength: engine.maxModelLength,
                                             logprobs: wantLogprobs ? (top ?? 0) : nil, promptParam: "messages", tokenizer: engine.tokenizer)
        generation.loraSlot = adapter?.slot ?? 0
        if let constraint = try tools.constraint(syntax: syntax, tokenizer: engine.tokenizer) {
            generation.grammar = constraint.grammar
            generation.grammarTrigger = constraint.trigger
        }
        let stream = try engine.submit(generation, promptParam: "messages", logprobsParam: "top_logprobs")
        let id = ResponseID.make("chatcmpl-")
        let model = try f.string("model")!
        let created = ResponseID.now
        let tokenizer = engine.tokenizer
        let returnIDs = options.returnTokenIDs
        // One parser per completion when tool calls are possible.
        let initialParsers = tools.isActive ? Array(repeating: ToolCallParser(syntax: syntax), count: options.n) : []

        if options.stream {
            let includeUsage = options.includeUsage
            let n = options.n
            return ServerSentEvents.response { writer in
                var parsers = initialParsers
                func send(_ choice: ChatChunkChoice?, usage: Usage? = nil) async throws {
                    try await writer.write(ServerSentEvents.event(ChatChunkBody(
                        id: id, created: created, model: model, choices: choice.map { [$0] } ?? [],
                        usage: Nullable(usage.map(UsageBody.init)))))
                }
                for i in 0..<n {
                    try await send(ChatChunkChoice(index: i, delta: ChatDelta(role: "assistant", content: ""), logprobs: Nullable(nil),
                                                   finish_reason: Nullable(nil), token_ids: nil))
                }
                var usage: Usage?
                for try await e in stream {
                    if let u = e.usage { usage = u }
                    var content = e.text
                    var calls: [ToolCallDeltaBody] = []
                    var finish = e.finishReason?.rawValue
                    if !parsers.isEmpty {
                        var outputs = parsers[e.index].feed(e.text)
                        if e.finishReason != nil { outputs += parsers[e.index].finish() }
                        content = ""
                        let before = parsers[e.index].callCount - outputs.count { if case .call = $0 { true } else { false } }
                        for output in outputs {
                            switch output {
                            case .content(let text): content += text
                            case .call(let call): calls.append(ToolCallDeltaBody(index: before + calls.count, call))
                            }
                        }
                        if e.finishReason == .stop && parsers[e.index].callCount > 0 { finish = "tool_calls" }
                    }
                    if content.isEmpty && calls.isEmpty && finish == nil && e.logprobs.isEmpty && !returnIDs { continue }
                    let delta = ChatDelta(role: nil, content: content.isEmpty && !calls.isEmpty ? nil : content,
                                          tool_calls: calls.isEmpty ? nil : calls)
                    try await send(ChatChunkChoice(index: e.index, delta: delta,
                                                   logprobs: Nullable(wantLogprobs ? Self.logprobs(e.logprobs, tokenizer) : nil),
                                                   finish_reason: Nullable(finish), token_ids: returnIDs ? e.tokenIDs : nil))
                }
                if let usage { AdapterLease.account(usage, adapter: adapter) }
                if includeUsage, let usage { try await send(nil, usage: usage) }
            }
        }

        var texts = Array(repeating: "", count: options.n)
        var ids = Array(repeating: [Int32](), count: options.n)
        var lps = Array(repeating: [TokenLogprob](), count: options.n)
        var finish = Array(repeating: FinishReason?.none, count: options.n)
        var usage: Usage?
        for try await e in stream {
            texts[e.index] += e.text
            ids[e.index] += e.tokenIDs
            lps[e.index] += e.logprobs
            if let r = e.finishReason { finish[e.index] = r }
            if let u = e.usage { usage = u }
        }
        var parsers = initialParsers
        let choices = (0..<options.n).map { i in
            var content: String? = texts[i]
            var calls: [ToolCallBody] = []
            var reason = finish[i]?.rawValue
            if !parsers.isEmpty {
                content = nil
                for output in parsers[i].feed(texts[i]) + parsers[i].finish() {
                    switch output {
                    case .content(let text): content = (content ?? "") + text
                    case .call(let call): calls.append(ToolCallBody(call))
                    }
                }
                if finish[i] == .stop && !calls.isEmpty { reason = "tool_calls" }
            }
            return ChatChoice(index: i, message: ChatMessageBody(role: "assistant", content: Nullable(content),
                                                                 tool_calls: calls.isEmpty ? nil : calls),
                              logprobs: Nullable(wantLogprobs ? Self.logprobs(lps[i], tokenizer) : nil),
                              finish_reason: Nullable(reason), token_ids: returnIDs ? ids[i] : nil)
        }
        let u = usage ?? Usage(promptTokens: prompt.count, completionTokens: ids.reduce(0) { $0 + $1.count }, cachedPromptTokens: 0)
        AdapterLease.account(u, adapter: adapter)
        return try ChatCompletionBody(id: id, created: created, model: model, choices: choices, usage: UsageBody(u),
                                      prompt_token_ids: returnIDs ? prompt : nil).response(from: request, context: context)
    }

    static func logprobs(_ items: [TokenLogprob], _ tokenizer: Tokenizer) -> ChatLogprobs {
        ChatLogprobs(content: items.map { lp in
            let t = TokenText.of(lp.token, tokenizer)
            return ChatTokenLogprob(token: t.text, logprob: lp.logprob, bytes: t.bytes, top_logprobs: lp.top.map { alt in
                let a = TokenText.of(alt.token, tokenizer)
                return .init(token: a.text, logprob: alt.logprob, bytes: a.bytes)
            })
        })
    }
}

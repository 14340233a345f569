import FlintEngine
import FlintJinja
import FlintTokenizers
import Hummingbird

/// POST /v1/completions: one or several prompts (text or token ids), each with n completions.
struct CompletionsController<Engine: InferenceEngine>: Sendable {
    let engine: Engine
    let maxBodyBytes: Int
    let cancelOnDisconnect: Bool

    func addRoutes(to router: Router<FlintRequestContext>) {
        router.post("/v1/completions") { request, context in
            try await context.cancellingWhenClientLeaves(enabled: cancelOnDisconnect) { try await create(request, context: context) }
        }
    }

    /// `prompt` as token sequences: a string, a list of strings, a list of token ids, or a
    /// list of such lists.
    func prompts(_ f: RequestFields) throws(APIError) -> [(tokens: [Int32], text: String)] {
        guard let value = f.object["prompt"], !value.isNone else { throw APIError.invalid("'prompt' is required", param: "prompt") }
        func tokens(_ items: [JinjaValue]) throws(APIError) -> [Int32] {
            var out: [Int32] = []
            for item in items {
                guard case .int(let t) = item, t >= 0, t < engine.tokenizer.vocabularySize else {
                    throw APIError.invalid("'prompt' token ids must be integers in 0..<\(engine.tokenizer.vocabularySize)", param: "prompt")
                }
                out.append(Int32(t))
            }
            return out
        }
        let tokenizer = engine.tokenizer
        switch value {
        case .string(let s): return [(engine.encodePrompt(s), s)]
        case .array(let items) where items.isEmpty: throw APIError.invalid("'prompt' must not be empty", param: "prompt")
        case .array(let items):
            // A list of token ids is one prompt of any length; lists of prompts hold at most 64.
            if case .int = items[0] {
                let t = try tokens(items)
                return [(t, tokenizer.decode(t))]
            }
            guard items.count <= 64 else { throw APIError.invalid("'prompt' has more than 64 prompts", param: "prompt") }
            switch items[0] {
            case .string:
                var out: [(tokens: [Int32], text: String)] = []
                for item in items {
                    guard case .string(let s) = item else { throw APIError.invalid("'prompt' list entries must all be strings", param: "prompt") }
                    out.append((engine.encodePrompt(s), s))
                }
                return out
            case .array:
                var out: [(tokens: [Int32], text: String)] = []
                for item in items {
                    guard case .array(let inner) = item else { throw APIError.invalid("'prompt' list entries must all be token lists", param: "prompt") }
                    let t = try tokens(inner)
                    out.append((t, tokenizer.decode(t)))
                }
                return out
            default: throw APIError.invalid("'prompt' must be a string, a list of strings or a list of token ids", param: "prompt")
            }
        default: throw APIError.invalid("'prompt' must be a string, a list of strings or a list of token ids", param: "prompt")
        }
    }

    private func create(_ request: Request, context: FlintRequestContext) async throws -> Response {
        let f = try await request.body.fields(limit: maxBodyBytes)
        let adapter = try ModelResolution.lease(f, engine: engine)
        var options = try GenerationOptions(f)
        // The legacy endpoint's default, as OpenAI's.
        if options.maxTokens == nil { options.maxTokens = 16 }
        let logprobs = try f.int("logprobs")
        let echo = try f.bool("echo") ?? false
        if echo && logprobs != nil { throw APIError.invalid("'echo' together with 'logprobs' is not supported", param: "echo") }
        if let suffix = try f.string("suffix"), !suffix.isEmpty { throw APIError.invalid("'suffix' is not supported", param: "suffix") }
        let prompts = try prompts(f)
        var streams: [AsyncThrowingStream<EngineEvent, Error>] = []
        for p in prompts {
            var r = try options.request(prompt: p.tokens, maxModelLength: engine.maxModelLength, logprobs: logprobs, promptParam: "prompt",
                                        tokenizer: engine.tokenizer)
            r.loraSlot = adapter?.slot ?? 0
            streams.append(try engine.submit(r, promptParam: "prompt"))
        }
        let id = ResponseID.make("cmpl-")
        let model = try f.string("model")!
        let created = ResponseID.now
        let tokenizer = engine.tokenizer
        let n = options.n
        let returnIDs = options.returnTokenIDs
        let echoes = prompts.map { echo ? $0.text : "" }

        if options.stream {
            let includeUsage = options.includeUsage
            let streams = streams
            return ServerSentEvents.response { writer in
                var usage: Usage?
                for (p, stream) in streams.enumerated() {
                    var echoed = Set<Int>()
                    for try await e in stream {
                        if let u = e.usage { usage = usage.map { $0 + u } ?? u }
                        var text = e.text
                        if echo && !echoed.contains(e.index) {
                            echoed.insert(e.index)
                            text = echoes[p] + text
                        }
                        if text.isEmpty && e.finishReason == nil && e.logprobs.isEmpty && !returnIDs { continue }
                        let choice = CompletionChoice(index: p * n + e.index, text: text,
                                                      logprobs: Nullable(logprobs == nil ? nil : Self.logprobs(e.logprobs, tokenizer)),
                                                      finish_reason: Nullable(e.finishReason?.rawValue), token_ids: returnIDs ? e.tokenIDs : nil)
                        try await writer.write(ServerSentEvents.event(CompletionBody(id: id, created: created, model: model, choices: [choice], usage: nil)))
                    }
                }
                if let usage { AdapterLease.account(usage, adapter: adapter) }
                if includeUsage, let usage {
                    try await writer.write(ServerSentEvents.event(CompletionBody(id: id, created: created, model: model, choices: [],
                                                                                  usage: UsageBody(usage))))
                }
            }
        }

        var choices: [CompletionChoice] = []
        var usage: Usage?
        for (p, stream) in streams.enumerated() {
            var texts = Array(repeating: echoes[p], count: n)
            var ids = Array(repeating: [Int32](), count: n)
            var lps = Array(repeating: [TokenLogprob](), count: n)
            var finish = Array(repeating: FinishReason?.none, count: n)
            for try await e in stream {
                texts[e.index] += e.text
                ids[e.index] += e.tokenIDs
                lps[e.index] += e.logprobs
                if let r = e.finishReason { finish[e.index] = r }
                if let u = e.usage { usage = usage.map { $0 + u } ?? u }
            }
            for i in 0..<n {
                choices.append(CompletionChoice(index: p * n + i, text: texts[i],
                                                logprobs: Nullable(logprobs == nil ? nil : Self.logprobs(lps[i], tokenizer)),
                                                finish_reason: Nullable(finish[i]?.rawValue), token_ids: returnIDs ? ids[i] : nil))
            }
        }
        let u = usage ?? Usage(promptTokens: 0, completionTokens: 0, cachedPromptTokens: 0)
        AdapterLease.account(u, adapter: adapter)
        return try CompletionBody(id: id, created: created, model: model, choices: choices, usage: UsageBody(u))
            .response(from: request, context: context)
    }

    /// Legacy logprobs: token strings, their logprobs, top alternatives by string, and the
    /// character offset of each token in the choice's text (which never starts with an echoed
    /// prompt: `echo` with `logprobs` is refused).
    static func logprobs(_ items: [TokenLogprob], _ tokenizer: Tokenizer) -> CompletionLogprobs {
        var out = CompletionLogprobs()
        var position = 0
        for lp in items {
            let t = TokenText.of(lp.token, tokenizer)
            out.tokens.append(t.text)
            out.token_logprobs.append(lp.logprob)
            out.text_offset.append(position)
            position += t.text.count
            var top: [String: Float] = [:]
            for alt in lp.top {
                let a = TokenText.of(alt.token, tokenizer).text
                if top[a] == nil { top[a] = alt.logprob }
            }
            out.top_logprobs.append(top)
        }
        return out
    }
}

// OpenAI response bodies as the official clients expect them. Fields that OpenAI sends as
// an explicit `null` (finish_reason, logprobs) are encoded as null, not left out.

struct UsageBody: Encodable {
    struct Details: Encodable { let cached_tokens: Int }
    let prompt_tokens: Int
    let completion_tokens: Int
    let total_tokens: Int
    let prompt_tokens_details: Details
}

struct ChatMessageBody: Encodable {
    let role: String
    let content: String?
}

/// One token of chat `logprobs.content`.
struct ChatTokenLogprob: Encodable {
    struct Alternative: Encodable {
        let token: String
        let logprob: Float
        let bytes: [UInt8]
    }
    let token: String
    let logprob: Float
    let bytes: [UInt8]
    let top_logprobs: [Alternative]
}

struct ChatLogprobs: Encodable {
    let content: [ChatTokenLogprob]
}

struct ChatChoice: Encodable {
    let index: Int
    let message: ChatMessageBody
    let logprobs: ChatLogprobs?
    let finish_reason: String?
    let token_ids: [Int32]?

    enum CodingKeys: String, CodingKey { case index, message, logprobs, finish_reason, token_ids }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(message, forKey: .message)
        try c.encode(logprobs, forKey: .logprobs)
        try c.encode(finish_reason, forKey: .finish_reason)
        try c.encodeIfPresent(token_ids, forKey: .token_ids)
    }
}

struct ChatCompletionBody: Encodable {
    let id: String
    var object = "chat.completion"
    let created: Int
    let model: String
    let choices: [ChatChoice]
    let usage: UsageBody
    let prompt_token_ids: [Int32]?
}

struct ChatDelta: Encodable {
    let role: String?
    let content: String?
}

struct ChatChunkChoice: Encodable {
    let index: Int
    let delta: ChatDelta
    let logprobs: ChatLogprobs?
    let finish_reason: String?
    let token_ids: [Int32]?

    enum CodingKeys: String, CodingKey { case index, delta, logprobs, finish_reason, token_ids }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(delta, forKey: .delta)
        try c.encode(logprobs, forKey: .logprobs)
        try c.encode(finish_reason, forKey: .finish_reason)
        try c.encodeIfPresent(token_ids, forKey: .token_ids)
    }
}

struct ChatChunkBody: Encodable {
    let id: String
    var object = "chat.completion.chunk"
    let created: Int
    let model: String
    let choices: [ChatChunkChoice]
    let usage: UsageBody?

    enum CodingKeys: String, CodingKey { case id, object, created, model, choices, usage }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(object, forKey: .object)
        try c.encode(created, forKey: .created)
        try c.encode(model, forKey: .model)
        try c.encode(choices, forKey: .choices)
        try c.encode(usage, forKey: .usage)
    }
}

/// Legacy completions `logprobs`.
struct CompletionLogprobs: Encodable {
    var tokens: [String] = []
    var token_logprobs: [Float] = []
    var top_logprobs: [[String: Float]] = []
    var text_offset: [Int] = []
}

struct CompletionChoice: Encodable {
    let index: Int
    let text: String
    let logprobs: CompletionLogprobs?
    let finish_reason: String?
    let token_ids: [Int32]?

    enum CodingKeys: String, CodingKey { case index, text, logprobs, finish_reason, token_ids }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(text, forKey: .text)
        try c.encode(logprobs, forKey: .logprobs)
        try c.encode(finish_reason, forKey: .finish_reason)
        try c.encodeIfPresent(token_ids, forKey: .token_ids)
    }
}

struct CompletionBody: Encodable {
    let id: String
    var object = "text_completion"
    let created: Int
    let model: String
    let choices: [CompletionChoice]
    let usage: UsageBody?

    enum CodingKeys: String, CodingKey { case id, object, created, model, choices, usage }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(object, forKey: .object)
        try c.encode(created, forKey: .created)
        try c.encode(model, forKey: .model)
        try c.encode(choices, forKey: .choices)
        try c.encodeIfPresent(usage, forKey: .usage)
    }
}

struct ModelBody: Encodable {
    let id: String
    var object = "model"
    let created: Int
    var owned_by = "flint"
    let root: String
    let parent: String?
    let max_model_len: Int
}

struct ModelListBody: Encodable {
    var object = "list"
    let data: [ModelBody]
}

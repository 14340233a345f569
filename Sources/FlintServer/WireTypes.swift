import FlintEngine
import FlintTokenizers
import Foundation
import Hummingbird

// OpenAI response bodies as the official clients expect them. Fields that OpenAI sends as
// an explicit `null` (finish_reason, logprobs) are `Nullable`, not left out.

/// An optional that encodes as an explicit `null` (synthesized `Encodable` leaves a nil
/// `Optional` out).
struct Nullable<Wrapped: Encodable>: Encodable {
    let value: Wrapped?
    init(_ value: Wrapped?) { self.value = value }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if let value { try c.encode(value) } else { try c.encodeNil() }
    }
}

struct UsageBody: Encodable {
    struct Details: Encodable { let cached_tokens: Int }
    /// OpenAI's breakdown; rejected prediction tokens are part of `completion_tokens`.
    struct CompletionDetails: Encodable {
        let accepted_prediction_tokens: Int
        let rejected_prediction_tokens: Int
        let reasoning_tokens: Int
    }
    let prompt_tokens: Int
    let completion_tokens: Int
    let total_tokens: Int
    let prompt_tokens_details: Details
    let completion_tokens_details: CompletionDetails

    init(_ u: Usage) {
        prompt_tokens = u.promptTokens
        completion_tokens = u.completionTokens
        total_tokens = u.totalTokens
        prompt_tokens_details = Details(cached_tokens: u.cachedPromptTokens)
        completion_tokens_details = CompletionDetails(accepted_prediction_tokens: u.acceptedPredictionTokens,
                                                      rejected_prediction_tokens: u.rejectedPredictionTokens, reasoning_tokens: 0)
    }
}

extension Usage {
    /// The usage of several prompts' requests together (one completions response).
    static func + (a: Usage, b: Usage) -> Usage {
        Usage(promptTokens: a.promptTokens + b.promptTokens, completionTokens: a.completionTokens + b.completionTokens,
              cachedPromptTokens: a.cachedPromptTokens + b.cachedPromptTokens,
              acceptedPredictionTokens: a.acceptedPredictionTokens + b.acceptedPredictionTokens,
              rejectedPredictionTokens: a.rejectedPredictionTokens + b.rejectedPredictionTokens)
    }
}

/// Response and tool-call ids, and `created` times.
enum ResponseID {
    /// `prefix` and 24 random hex digits.
    static func make(_ prefix: String) -> String {
        func hex<T: FixedWidthInteger>(_ v: T) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: T.bitWidth / 4 - s.count) + s
        }
        return prefix + hex(UInt64.random(in: 0...UInt64.max)) + hex(UInt32.random(in: 0...UInt32.max))
    }

    static var now: Int { Int(Date().timeIntervalSince1970) }
}

/// The text of a token for logprobs: its bytes, decoded leniently.
enum TokenText {
    static func of(_ id: Int32, _ tokenizer: Tokenizer) -> (text: String, bytes: [UInt8]) {
        let bytes = tokenizer.tokenBytes(id)
        return (String(decoding: bytes, as: UTF8.self), bytes)
    }
}

struct ChatMessageBody: Encodable {
    let role: String
    let content: Nullable<String>
    let tool_calls: [ToolCallBody]?
}

/// A function call in an assistant message.
struct ToolCallBody: Encodable {
    struct Function: Encodable {
        let name: String
        let arguments: String
    }
    let id: String
    var type = "function"
    let function: Function

    init(_ call: ToolCall) {
        id = call.id
        function = Function(name: call.name, arguments: call.arguments)
    }
}

/// A function call in a streamed delta: the whole call, sent once it is complete.
struct ToolCallDeltaBody: Encodable {
    let index: Int
    let id: String
    var type = "function"
    let function: ToolCallBody.Function

    init(index: Int, _ call: ToolCall) {
        self.index = index
        id = call.id
        function = .init(name: call.name, arguments: call.arguments)
    }
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
    let logprobs: Nullable<ChatLogprobs>
    let finish_reason: Nullable<String>
    let token_ids: [Int32]?

}

struct ChatCompletionBody: ResponseEncodable {
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
    var tool_calls: [ToolCallDeltaBody]? = nil
}

struct ChatChunkChoice: Encodable {
    let index: Int
    let delta: ChatDelta
    let logprobs: Nullable<ChatLogprobs>
    let finish_reason: Nullable<String>
    let token_ids: [Int32]?

}

struct ChatChunkBody: Encodable {
    let id: String
    var object = "chat.completion.chunk"
    let created: Int
    let model: String
    let choices: [ChatChunkChoice]
    let usage: Nullable<UsageBody>

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
    let logprobs: Nullable<CompletionLogprobs>
    let finish_reason: Nullable<String>
    let token_ids: [Int32]?

}

struct CompletionBody: ResponseEncodable {
    let id: String
    var object = "text_completion"
    let created: Int
    let model: String
    let choices: [CompletionChoice]
    let usage: UsageBody?

}

struct ModelBody: ResponseEncodable {
    let id: String
    var object = "model"
    let created: Int
    var owned_by = "flint"
    let root: String
    let parent: String?
    let max_model_len: Int
}

struct ModelListBody: ResponseEncodable {
    var object = "list"
    let data: [ModelBody]
}

/// GET /health.
struct HealthBody: ResponseEncodable {
    var status = "ok"
}

import FlintEngine
import FlintGrammar
import FlintJinja
import FlintTokenizers

/// The parameters chat and text completions share, read and validated from a request
/// body (OpenAI's names and ranges, plus the platform's extensions).
struct GenerationOptions {
    var maxTokens: Int?
    var sampling = SamplingParameters()
    var n = 1
    var stop: [String] = []
    var ignoreEOS = false
    var truncateToFit = false
    var cacheIsolationKey: String?
    var promptCacheMaxLength: Int?
    var returnTokenIDs = false
    var stream = false
    var includeUsage = false
    var grammar: Grammar?
    /// The predicted output's text (`prediction`).
    var prediction: String?

    /// Reads each parameter's type; the ranges are checked once, by the engine at submit
    /// (GenerationRequest.validate), and come back as a 400 naming the parameter.
    init(_ f: RequestFields) throws(APIError) {
        if let m = try f.int("max_completion_tokens") { maxTokens = m }
        if let m = try f.int("max_tokens") { maxTokens = m }
        var s = SamplingParameters()
        if let t = try f.number("temperature") { s.temperature = Float(t) }
        if let p = try f.number("top_p") { s.topP = Float(p) }
        // -1 is vLLM's "no limit", as 0 is here.
        if let k = try f.int("top_k") { s.topK = k == -1 ? 0 : k }
        if let p = try f.number("min_p") { s.minP = Float(p) }
        if let p = try f.number("presence_penalty") { s.presencePenalty = Float(p) }
        if let p = try f.number("frequency_penalty") { s.frequencyPenalty = Float(p) }
        if let p = try f.number("repetition_penalty") { s.repetitionPenalty = Float(p) }
        if let seed = try f.int("seed") { s.seed = UInt64(bitPattern: Int64(seed)) }
        if let bias = try f.object("logit_bias") {
            for (key, value) in bias {
                guard let id = Int32(key) else {
                    throw APIError.invalid("'logit_bias' key '\(key)' is not a token id of this model", param: "logit_bias")
                }
                guard let b = value.doubleValue else {
                    throw APIError.invalid("'logit_bias' values must be numbers between -100 and 100", param: "logit_bias")
                }
                s.logitBias[id] = Float(b)
            }
        }
        sampling = s
        n = try f.int("n") ?? 1
        stop = try f.stringOrStrings("stop")
        _ = try f.string("user")
        ignoreEOS = try f.bool("ignore_eos") ?? false
        switch try f.string("context_length_exceeded_behavior") {
        case nil, "error": truncateToFit = false
        case "truncate": truncateToFit = true
        case let other?:
            throw APIError.invalid("'context_length_exceeded_behavior' must be \"truncate\" or \"error\", got \"\(other)\"",
                                   param: "context_length_exceeded_behavior")
        }
        cacheIsolationKey = try f.string("prompt_cache_isolation_key")
        promptCacheMaxLength = try f.int("prompt_cache_max_len")
        returnTokenIDs = try f.bool("return_token_ids") ?? false
        grammar = try Self.grammar(f)
        prediction = try Self.prediction(f)
        stream = try f.bool("stream") ?? false
        if let options = try f.object("stream_options") {
            guard stream else { throw APIError.invalid("'stream_options' is only allowed when 'stream' is true", param: "stream_options") }
            let inner = RequestFields(object: options)
            includeUsage = try inner.bool("include_usage") ?? false
        }
    }

    /// `response_format`: text, `json_object`, `json_schema` (`{"name", "schema", "strict"}`)
    /// or `grammar` (GBNF); a schema or grammar that does not compile is a 400 saying why.
    static func grammar(_ f: RequestFields) throws(APIError) -> Grammar? {
        guard let format = try f.object("response_format") else { return nil }
        let param = "response_format"
        switch format["type"]?.stringValue {
        case "text"?: return nil
        case "json_object"?: return JSONSchemaCompiler.anyObject()
        case "json_schema"?:
            guard case .object(let spec)? = format["json_schema"] else {
                throw APIError.invalid("'response_format.json_schema' must be an object with a 'schema'", param: param)
            }
            guard let schema = spec["schema"], !schema.isNone else {
                throw APIError.invalid("'response_format.json_schema.schema' is required", param: param)
            }
            do { return try JSONSchemaCompiler.compile(schema: schema) } catch {
                throw APIError.invalid("Invalid JSON schema: \(error)", param: param)
            }
        case "grammar"?:
            guard case .string(let text)? = format["grammar"] else {
                throw APIError.invalid("'response_format.grammar' must be a GBNF string", param: param)
            }
            do { return try Grammar(gbnf: text) } catch { throw APIError.invalid("Invalid grammar: \(error)", param: param) }
        default:
            throw APIError.invalid("'response_format.type' must be one of text, json_object, json_schema, grammar", param: param)
        }
    }

    /// Most UTF-8 bytes of a prediction: a few times the longest output of any catalog model.
    static let maxPredictionBytes = 1 << 20

    /// `prediction`: `{"type": "content", "content": string or [{"type": "text", "text": string}]}`
    /// (OpenAI's predicted outputs); the parts' texts are joined.
    static func prediction(_ f: RequestFields) throws(APIError) -> String? {
        guard let p = try f.object("prediction") else { return nil }
        let shape = "'prediction' must be {\"type\": \"content\", \"content\": a string or a list of {\"type\": \"text\", \"text\": string} parts}"
        guard p["type"]?.stringValue == "content" else { throw APIError.invalid(shape, param: "prediction") }
        var text: String
        switch p["content"] {
        case .string(let s)?: text = s
        case .array(let parts)?:
            text = ""
            for part in parts {
                guard case .object(let o) = part, o["type"]?.stringValue == "text", case .string(let t)? = o["text"] else {
                    throw APIError.invalid(shape, param: "prediction")
                }
                text += t
            }
        default: throw APIError.invalid(shape, param: "prediction")
        }
        guard text.utf8.count <= maxPredictionBytes else {
            throw APIError.invalid("'prediction' is longer than \(maxPredictionBytes) bytes", param: "prediction")
        }
        return text
    }

    /// The engine request for one prompt: max_tokens defaults to what the context leaves,
    /// and a prompt that does not fit is a 400 (or, with "truncate", fewer new tokens).
    /// The prediction is tokenized as plain text, as the output it stands for would be.
    func request(prompt: [Int32], maxModelLength: Int, logprobs: Int?, promptParam: String,
                 tokenizer: Tokenizer) throws(APIError) -> GenerationRequest {
        guard !prompt.isEmpty else { throw APIError.invalid("The prompt is empty", param: promptParam) }
        let room = maxModelLength - prompt.count
        guard room >= 1 else {
            throw APIError.invalid("This model's maximum context length is \(maxModelLength) tokens; the prompt has \(prompt.count)",
                                   param: promptParam, code: "context_length_exceeded")
        }
        var maxTokens = self.maxTokens ?? room
        if maxTokens > room {
            guard truncateToFit else {
                throw APIError.invalid("This model's maximum context length is \(maxModelLength) tokens; the prompt has \(prompt.count) "
                                       + "and max_tokens asks for \(maxTokens) more", param: "max_tokens", code: "context_length_exceeded")
            }
            maxTokens = room
        }
        return GenerationRequest(prompt: prompt, sampling: sampling, maxTokens: maxTokens, stop: stop, ignoreEOS: ignoreEOS,
                                 n: n, logprobs: logprobs, cacheIsolationKey: cacheIsolationKey,
                                 promptCacheMaxLength: promptCacheMaxLength, grammar: grammar,
                                 prediction: prediction.map { tokenizer.encode($0, addSpecial: false, parseSpecial: false) } ?? [])
    }
}

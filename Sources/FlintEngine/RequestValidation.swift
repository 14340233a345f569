/// The one place where a request's parameters are checked against their ranges (OpenAI's,
/// plus the platform's extensions). The engine checks every request at submit; the
/// server and the CLI turn `EngineError.invalidParameter` into their own output, naming
/// the parameter by its API name (`top_p`) or its flag (`--top-p`).
extension GenerationRequest {
    public static let maxCompletions = 16
    public static let maxTopLogprobs = 20
    public static let maxStopStrings = 16
    public static let maxLogitBiasEntries = 1024

    public func validate(vocabularySize: Int) throws(EngineError) {
        if prompt.isEmpty { throw EngineError.emptyPrompt }
        if let bad = prompt.first(where: { $0 < 0 || Int($0) >= vocabularySize }) { throw EngineError.invalidToken(bad) }
        try Self.check(maxTokens >= 1, "max_tokens", "must be at least 1, got \(maxTokens)")
        try Self.check((1...Self.maxCompletions).contains(n), "n", "must be between 1 and \(Self.maxCompletions), got \(n)")
        if let logprobs {
            try Self.check((0...Self.maxTopLogprobs).contains(logprobs), "logprobs",
                           "must be between 0 and \(Self.maxTopLogprobs), got \(logprobs)")
        }
        try Self.check(stop.count <= Self.maxStopStrings, "stop", "has more than \(Self.maxStopStrings) entries")
        try Self.check(!stop.contains(where: \.isEmpty), "stop", "strings must not be empty")
        if let promptCacheMaxLength {
            try Self.check(promptCacheMaxLength >= 0, "prompt_cache_max_len", "must be at least 0, got \(promptCacheMaxLength)")
        }
        try Self.check(grammarTrigger == nil || grammar != nil, "grammar_trigger", "needs a grammar")
        try Self.check(!prediction.contains { $0 < 0 || Int($0) >= vocabularySize }, "prediction", "holds a token id outside the vocabulary")
        try sampling.validate(vocabularySize: vocabularySize)
    }

    static func check(_ ok: Bool, _ name: String, _ reason: @autoclosure () -> String) throws(EngineError) {
        if !ok { throw EngineError.invalidParameter(name: name, reason: reason()) }
    }
}

extension SamplingParameters {
    public func validate(vocabularySize: Int) throws(EngineError) {
        typealias R = GenerationRequest
        func within(_ v: Float, _ range: ClosedRange<Float>, _ name: String, openLower: Bool = false) throws(EngineError) {
            let ok = v.isFinite && range.contains(v) && !(openLower && v == range.lowerBound)
            let lower = openLower ? "greater than \(range.lowerBound.shortString)" : "at least \(range.lowerBound.shortString)"
            try R.check(ok, name, "must be \(lower) and at most \(range.upperBound.shortString), got \(v.shortString)")
        }
        try within(temperature, 0...2, "temperature")
        try within(topP, 0...1, "top_p", openLower: true)
        try R.check(topK >= 0, "top_k", "must be at least 0 (or -1 for no limit), got \(topK)")
        try within(minP, 0...1, "min_p")
        try within(presencePenalty, -2...2, "presence_penalty")
        try within(frequencyPenalty, -2...2, "frequency_penalty")
        try within(repetitionPenalty, 0...10, "repetition_penalty", openLower: true)
        try R.check(logitBias.count <= R.maxLogitBiasEntries, "logit_bias", "has more than \(R.maxLogitBiasEntries) entries")
        for (token, bias) in logitBias {
            try R.check(token >= 0 && Int(token) < vocabularySize, "logit_bias", "key '\(token)' is not a token id of this model")
            try R.check(bias.isFinite && (-100...100).contains(bias), "logit_bias", "values must be numbers between -100 and 100")
        }
    }
}

extension Float {
    /// 2 rather than 2.0, 0.5 as 0.5: how a person wrote the bound.
    var shortString: String { self == rounded() && abs(self) < 1e9 ? String(Int(self)) : "\(self)" }
}

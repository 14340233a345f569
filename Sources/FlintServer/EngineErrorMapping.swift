import FlintEngine

extension InferenceEngine {
    /// Submits to the engine, which validates the request (GenerationRequest.validate); its
    /// refusals become 400/429/503s naming the parameter as this endpoint calls it.
    func submit(_ request: GenerationRequest, promptParam: String,
                logprobsParam: String = "logprobs") throws(APIError) -> AsyncThrowingStream<EngineEvent, Error> {
        do { return try submit(request) } catch let e as EngineError {
            throw APIError(e, promptParam: promptParam, logprobsParam: logprobsParam)
        } catch {
            throw APIError.internalError("\(error)")
        }
    }
}

extension APIError {
    init(_ e: EngineError, promptParam: String, logprobsParam: String) {
        switch e {
        case .overloaded: self = .overloaded(e.description)
        case .shuttingDown:
            self = APIError(status: .serviceUnavailable, message: e.description, type: "server_error", code: "shutting_down")
            headers[.retryAfter] = "5"
        case .tooLong: self = .invalid(e.description, param: promptParam, code: "context_length_exceeded")
        case .emptyPrompt, .invalidToken: self = .invalid(e.description, param: promptParam)
        case .invalidParameter(let name, let reason):
            let param = name == "logprobs" ? logprobsParam : name
            self = .invalid("'\(param)' \(reason)", param: param)
        }
    }
}

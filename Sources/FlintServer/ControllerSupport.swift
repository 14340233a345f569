import FlintEngine
import FlintTokenizers
import Foundation
import Hummingbird
import Metrics
import NIOCore

/// Steps every generation endpoint shares: reading the body, checking the model name,
/// submitting to the engine with its errors mapped to HTTP, and encoding results.
enum ControllerSupport {
    /// Runs a generation handler so that it is cancelled (and with it the engine request)
    /// when the client goes away (ConnectionWatch): a non-streaming request would otherwise
    /// compute its whole answer for nobody. (Streaming responses notice at their next write.)
    /// The connection stays open for the client's next request.
    static func handle(_ request: Request, context: FlintRequestContext, cancelOnDisconnect: Bool,
                       _ handler: @escaping @Sendable (RequestBody) async throws -> Response) async throws -> Response {
        guard cancelOnDisconnect, let watch = await context.connectionWatch() else { return try await handler(request.body) }
        let body = request.body
        return try await watch.cancellingWhenClientLeaves { try await handler(body) }
    }

    /// The body as request fields; a body over `limit` bytes is a 413.
    static func fields(of body: RequestBody, limit: Int) async throws -> RequestFields {
        try RequestFields(body: Array(try await bytes(of: body, limit: limit).readableBytesView))
    }

    /// The whole body; over `limit` bytes is a 413.
    static func bytes(of body: RequestBody, limit: Int) async throws -> ByteBuffer {
        do { return try await body.collect(upTo: limit) } catch is NIOTooManyBytesError {
            throw APIError(status: .contentTooLarge, message: "The request body is larger than \(limit) bytes",
                           type: "invalid_request_error", code: "request_too_large")
        } catch let e as HTTPError where e.status == .contentTooLarge {
            throw APIError(status: .contentTooLarge, message: "The request body is larger than \(limit) bytes",
                           type: "invalid_request_error", code: "request_too_large")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            // E.g. a client that closes before sending the length it announced.
            throw APIError.invalid("The request body could not be read: \(error)")
        }
    }

    /// What a request's "model" names: the base model (nil) or one of its adapters —
    /// `<base>:<adapter>`, `accounts/<account>/models/<adapter>` or the adapter's bare name —
    /// leased for as long as the request holds the lease.
    static func model(_ f: RequestFields, engine: some InferenceEngine) throws(APIError) -> AdapterLease? {
        guard let requested = try f.string("model") else { throw APIError.invalid("'model' is required", param: "model") }
        guard let adapter = try adapterName(requested, engine: engine) else { return nil }
        guard let registry = engine.adapters else { throw APIError.modelNotFound(requested) }
        do { return AdapterLease(registry: registry, name: adapter, slot: try registry.acquire(adapter)) } catch {
            if case .notFound? = error as? LoRARegistryError { throw APIError.modelNotFound(requested) }
            throw APIError.adapter(error as? LoRARegistryError ?? .io("\(error)"))
        }
    }

    /// The adapter part of a model name; nil for the base model. Unknown names are a 404.
    static func adapterName(_ requested: String, engine: some InferenceEngine) throws(APIError) -> String? {
        let parts = requested.split(separator: "/", omittingEmptySubsequences: false)
        let name = parts.count == 4 && parts[0] == "accounts" && !parts[1].isEmpty && parts[2] == "models"
            ? String(parts[3]) : requested
        if name == engine.modelName { return nil }
        let adapter = name.hasPrefix(engine.modelName + ":") ? String(name.dropFirst(engine.modelName.count + 1)) : name
        guard engine.adapters?.info(adapter) != nil else { throw APIError.modelNotFound(requested) }
        return adapter
    }

    /// Submits to the engine, which validates the request (GenerationRequest.validate); its
    /// errors become 400/429/503s naming the parameter as this endpoint calls it.
    static func submit(_ request: GenerationRequest, to engine: some InferenceEngine, promptParam: String,
                       logprobsParam: String = "logprobs") throws -> AsyncThrowingStream<EngineEvent, Error> {
        do { return try engine.submit(request) } catch let e as EngineError {
            switch e {
            case .overloaded: throw APIError.overloaded(e.description)
            case .shuttingDown:
                var err = APIError(status: .serviceUnavailable, message: e.description, type: "server_error", code: "shutting_down")
                err.headers[.retryAfter] = "5"
                throw err
            case .tooLong: throw APIError.invalid(e.description, param: promptParam, code: "context_length_exceeded")
            case .emptyPrompt, .invalidToken: throw APIError.invalid(e.description, param: promptParam)
            case .invalidParameter(let name, let reason):
                let param = name == "logprobs" ? logprobsParam : name
                throw APIError.invalid("'\(param)' \(reason)", param: param)
            }
        }
    }

    /// Token counts per adapter ("base" for none), for accounting; a token costs the same either way.
    static func account(_ u: Usage, adapter: AdapterLease?) {
        let dimensions = [("adapter", adapter?.name ?? "base")]
        Counter(label: "flint_adapter_prompt_tokens_total", dimensions: dimensions).increment(by: u.promptTokens)
        Counter(label: "flint_adapter_completion_tokens_total", dimensions: dimensions).increment(by: u.completionTokens)
        Counter(label: "flint_adapter_requests_total", dimensions: dimensions).increment()
    }

    static func usage(_ u: Usage) -> UsageBody {
        UsageBody(prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.totalTokens,
                  prompt_tokens_details: .init(cached_tokens: u.cachedPromptTokens))
    }

    static func sum(_ a: Usage?, _ b: Usage) -> Usage {
        guard let a else { return b }
        return Usage(promptTokens: a.promptTokens + b.promptTokens, completionTokens: a.completionTokens + b.completionTokens,
                     cachedPromptTokens: a.cachedPromptTokens + b.cachedPromptTokens)
    }

    /// `prefix` and 24 random hex digits.
    static func newID(_ prefix: String) -> String {
        func hex<T: FixedWidthInteger>(_ v: T) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: T.bitWidth / 4 - s.count) + s
        }
        return prefix + hex(UInt64.random(in: 0...UInt64.max)) + hex(UInt32.random(in: 0...UInt32.max))
    }

    static var now: Int { Int(Date().timeIntervalSince1970) }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONEncoder().encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// One server-sent event.
    static func event(_ value: some Encodable) throws -> ByteBuffer {
        var buffer = ByteBuffer(string: "data: ")
        buffer.writeBytes(try JSONEncoder().encode(value))
        buffer.writeString("\n\n")
        return buffer
    }

    static let done = ByteBuffer(string: "data: [DONE]\n\n")

    static func streamResponse(_ write: @escaping @Sendable (inout any ResponseBodyWriter) async throws -> Void) -> Response {
        Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                 body: ResponseBody { writer in
                     try await write(&writer)
                     try await writer.write(done)
                     try await writer.finish(nil)
                 })
    }

    /// The text of a token for logprobs (its bytes, decoded leniently).
    static func tokenText(_ id: Int32, _ tokenizer: Tokenizer) -> (text: String, bytes: [UInt8]) {
        let bytes = tokenizer.tokenBytes(id)
        return (String(decoding: bytes, as: UTF8.self), bytes)
    }
}

/// A request's hold on an adapter's slot: while any request holds one, the adapter is not
/// evicted. Released when the last reference goes (the request finished, failed or was
/// cancelled).
final class AdapterLease: Sendable {
    let registry: LoRARegistry
    let name: String
    let slot: Int32

    init(registry: LoRARegistry, name: String, slot: Int32) {
        self.registry = registry
        self.name = name
        self.slot = slot
    }

    deinit { registry.release(name) }
}

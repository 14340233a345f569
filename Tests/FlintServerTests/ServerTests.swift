import FlintEngine
import FlintJinja
import FlintServer
import FlintTestSupport
import FlintTokenizers
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Metrics
import Prometheus
import XCTest

/// One engine on the default model for the whole test class, and one Prometheus registry
/// (swift-metrics can be bootstrapped once per process).
enum TestServer {
    static let registry: PrometheusCollectorRegistry = {
        let r = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: r))
        return r
    }()

    static let engine: LocalInferenceEngine = {
        _ = registry
        let model = try! LoadedModel(path: try! TestModels.path("smollm2-135m-instruct"))
        return try! LocalInferenceEngine(name: "smollm2-135m-instruct", model: model,
                                    configuration: EngineConfiguration(threads: 2, kvCacheBytes: 64 << 20))
    }()

    /// The same model with a 64-token context, for the context-length rules.
    static let shortContext: LocalInferenceEngine = {
        _ = registry
        let model = try! LoadedModel(path: try! TestModels.path("smollm2-135m-instruct"))
        return try! LocalInferenceEngine(name: "smollm2-135m-instruct", model: model,
                                    configuration: EngineConfiguration(threads: 1, kvCacheBytes: 8 << 20, maxModelLength: 64))
    }()

    static let keys: Set<String> = ["key-a", "key-b"]
}

/// An engine that fails every submit with `error` (a full queue, shutdown, or a bug).
struct FailingEngine: InferenceEngine {
    let base: LocalInferenceEngine
    let error: any Error
    var modelName: String { base.modelName }
    var created: Int { base.created }
    var maxModelLength: Int { base.maxModelLength }
    var tokenizer: Tokenizer { base.tokenizer }
    var chatTemplateSource: String { base.chatTemplateSource }
    var adapters: LoRARegistry? { base.adapters }
    func encodeChat(_ messages: [ChatMessage], tools: [JinjaValue]?) throws -> [Int32] { try base.encodeChat(messages, tools: tools) }
    func encodePrompt(_ text: String) -> [Int32] { base.encodePrompt(text) }
    func submit(_ request: GenerationRequest) throws -> AsyncThrowingStream<EngineEvent, Error> { throw error }
    func shutdown(gracePeriod: Double) async {}
}

final class ServerTests: XCTestCase, @unchecked Sendable {
    private func app<E: InferenceEngine>(_ engine: E, keys: Set<String> = TestServer.keys, maxBody: Int = 1 << 20) -> some ApplicationProtocol {
        // Router tests have no connection to watch; the e2e suite covers cancellation on disconnect.
        buildApplication(engine: engine, configuration: ServerConfiguration(apiKeys: keys, maxBodyBytes: maxBody, cancelOnDisconnect: false),
                         registry: TestServer.registry, logger: Logger(label: "test"))
    }

    private let auth: HTTPFields = [.authorization: "Bearer key-a", .contentType: "application/json"]

    private func json(_ response: TestResponse) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body))
        return try XCTUnwrap(object as? [String: Any], "body: \(String(buffer: response.body))")
    }

    /// Asserts an OpenAI-shaped error with this status (and param/code when given).
    private func expectError(_ client: some TestClientProtocol, _ uri: String, method: HTTPRequest.Method = .post, body: String?,
                             headers: HTTPFields? = nil, status: HTTPResponse.Status, param: String? = nil, code: String? = nil,
                             file: StaticString = #filePath, line: UInt = #line) async throws {
        try await client.execute(uri: uri, method: method, headers: headers ?? auth, body: body.map { ByteBuffer(string: $0) }) { r in
            XCTAssertEqual(r.status, status, String(buffer: r.body), file: file, line: line)
            let error = try XCTUnwrap(try self.json(r)["error"] as? [String: Any], file: file, line: line)
            XCTAssertNotNil(error["message"] as? String, file: file, line: line)
            XCTAssertNotNil(error["type"] as? String, file: file, line: line)
            XCTAssertTrue(error.keys.contains("param") && error.keys.contains("code"), file: file, line: line)
            if let param { XCTAssertEqual(error["param"] as? String, param, file: file, line: line) }
            if let code { XCTAssertEqual(error["code"] as? String, code, file: file, line: line) }
        }
    }

    func testHealthModelsAndMetrics() async throws {
        try await app(TestServer.engine).test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { XCTAssertEqual($0.status, .ok) }
            try await client.execute(uri: "/v1/models", method: .get, headers: auth) { r in
                XCTAssertEqual(r.status, .ok)
                let data = try XCTUnwrap(try self.json(r)["data"] as? [[String: Any]])
                XCTAssertEqual(data.first?["id"] as? String, "smollm2-135m-instruct")
                XCTAssertEqual(data.first?["object"] as? String, "model")
            }
            for id in ["smollm2-135m-instruct", "accounts/acme/models/smollm2-135m-instruct"] {
                try await client.execute(uri: "/v1/models/\(id)", method: .get, headers: auth) { r in
                    XCTAssertEqual(r.status, .ok)
                    XCTAssertEqual(try self.json(r)["id"] as? String, id)
                }
            }
            try await expectError(client, "/v1/models/other-model", method: .get, body: nil, status: .notFound, code: "model_not_found")
            try await client.execute(uri: "/metrics", method: .get) { r in
                XCTAssertEqual(r.status, .ok)
                let text = String(buffer: r.body)
                XCTAssertTrue(text.contains("flint:http_requests_total"), text)
                XCTAssertTrue(text.contains("flint:kv_cache_blocks_total"), text)
            }
        }
    }

    func testChatCompletion() async throws {
        try await app(TestServer.engine).test(.router) { client in
            let body = #"{"model":"smollm2-135m-instruct","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Say hi."}]}],"max_tokens":6,"temperature":0,"logprobs":true,"top_logprobs":2,"return_token_ids":true}"#
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: auth, body: ByteBuffer(string: body)) { r in
                XCTAssertEqual(r.status, .ok, String(buffer: r.body))
                let o = try self.json(r)
                XCTAssertEqual(o["object"] as? String, "chat.completion")
                let choice = try XCTUnwrap((o["choices"] as? [[String: Any]])?.first)
                let message = try XCTUnwrap(choice["message"] as? [String: Any])
                XCTAssertEqual(message["role"] as? String, "assistant")
                XCTAssertFalse((message["content"] as? String ?? "").isEmpty)
                let ids = try XCTUnwrap(choice["token_ids"] as? [Int])
                let content = try XCTUnwrap((choice["logprobs"] as? [String: Any])?["content"] as? [[String: Any]])
                XCTAssertEqual(content.count, ids.count)
                XCTAssertEqual((content.first?["top_logprobs"] as? [Any])?.count, 2)
                let usage = try XCTUnwrap(o["usage"] as? [String: Any])
                XCTAssertEqual(usage["completion_tokens"] as? Int, ids.count)
                XCTAssertEqual(usage["total_tokens"] as? Int, (usage["prompt_tokens"] as? Int ?? 0) + ids.count)
                XCTAssertNotNil((usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int)
            }
        }
    }

    func testChatStreamingMatchesNonStreaming() async throws {
        try await app(TestServer.engine).test(.router) { client in
            let base = #""model":"accounts/acme/models/smollm2-135m-instruct","messages":[{"role":"user","content":"Name a color."}],"max_tokens":8,"temperature":0"#
            var plain = ""
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: auth, body: ByteBuffer(string: "{\(base)}")) { r in
                let choice = try XCTUnwrap((try self.json(r)["choices"] as? [[String: Any]])?.first)
                plain = try XCTUnwrap((choice["message"] as? [String: Any])?["content"] as? String)
            }
            let streamBody = "{\(base),\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: auth, body: ByteBuffer(string: streamBody)) { r in
                XCTAssertEqual(r.status, .ok)
                XCTAssertEqual(r.headers[.contentType], "text/event-stream")
                let events = String(buffer: r.body).components(separatedBy: "\n\n").filter { !$0.isEmpty }
                XCTAssertEqual(events.last, "data: [DONE]")
                var text = ""
                var sawUsage = false
                var finish: String?
                for e in events.dropLast() {
                    XCTAssertTrue(e.hasPrefix("data: "))
                    let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(e.dropFirst(6).utf8)) as? [String: Any])
                    XCTAssertEqual(o["object"] as? String, "chat.completion.chunk")
                    let choices = try XCTUnwrap(o["choices"] as? [[String: Any]])
                    if choices.isEmpty { sawUsage = o["usage"] is [String: Any] }
                    for c in choices {
                        text += (c["delta"] as? [String: Any])?["content"] as? String ?? ""
                        if let f = c["finish_reason"] as? String { finish = f }
                    }
                }
                XCTAssertEqual(text, plain)
                XCTAssertNotNil(finish)
                XCTAssertTrue(sawUsage)
            }
        }
    }

    func testResponseFormatJSONSchema() async throws {
        try await app(TestServer.engine).test(.router) { client in
            let schema = #"{"type":"object","properties":{"name":{"type":"string","maxLength":20},"age":{"type":"integer","minimum":0}},"required":["name","age"],"additionalProperties":false}"#
            let body = #"{"model":"smollm2-135m-instruct","messages":[{"role":"user","content":"Describe a person as JSON."}],"max_tokens":60,"temperature":1.0,"seed":5,"response_format":{"type":"json_schema","json_schema":{"name":"person","schema":\#(schema)}}}"#
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: auth, body: ByteBuffer(string: body)) { r in
                XCTAssertEqual(r.status, .ok, String(buffer: r.body))
                let choice = try XCTUnwrap((try self.json(r)["choices"] as? [[String: Any]])?.first)
                let content = try XCTUnwrap((choice["message"] as? [String: Any])?["content"] as? String)
                let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(content.utf8)) as? [String: Any], content)
                XCTAssertEqual(Set(object.keys), ["name", "age"])
                XCTAssertNotNil(object["name"] as? String)
                XCTAssertGreaterThanOrEqual(object["age"] as? Int ?? -1, 0)
                XCTAssertEqual(choice["finish_reason"] as? String, "stop")
            }
        }
    }

    func testCompletions() async throws {
        try await app(TestServer.engine).test(.router) { client in
            let bodies = [
                (#"{"model":"smollm2-135m-instruct","prompt":"The sky is","max_tokens":4,"temperature":0,"echo":true}"#, 1),
                (#"{"model":"smollm2-135m-instruct","prompt":["One","Two"],"max_tokens":3,"n":2,"temperature":0.8,"seed":3}"#, 4),
                (#"{"model":"smollm2-135m-instruct","prompt":[504,3330,314],"max_tokens":3,"logprobs":2}"#, 1),
                (#"{"model":"smollm2-135m-instruct","prompt":[[504,3330],[314]],"max_tokens":2,"stream":true}"#, 2),
            ]
            for (body, expectedChoices) in bodies {
                try await client.execute(uri: "/v1/completions", method: .post, headers: auth, body: ByteBuffer(string: body)) { r in
                    XCTAssertEqual(r.status, .ok, String(buffer: r.body))
                    if body.contains("\"stream\":true") {
                        let text = String(buffer: r.body)
                        XCTAssertTrue(text.hasSuffix("data: [DONE]\n\n"))
                        XCTAssertTrue(text.contains("\"index\":1"))
                        return
                    }
                    let o = try self.json(r)
                    let choices = try XCTUnwrap(o["choices"] as? [[String: Any]])
                    XCTAssertEqual(choices.map { $0["index"] as? Int }, (0..<expectedChoices).map { $0 })
                    if body.contains("echo") { XCTAssertTrue((choices[0]["text"] as? String ?? "").hasPrefix("The sky is")) }
                    if body.contains("logprobs") {
                        let lp = try XCTUnwrap(choices[0]["logprobs"] as? [String: Any])
                        XCTAssertEqual((lp["tokens"] as? [Any])?.count, 3)
                        XCTAssertEqual((lp["top_logprobs"] as? [Any])?.count, 3)
                    }
                }
            }
        }
    }

    func testParameterErrorsNameTheParameter() async throws {
        try await app(TestServer.engine).test(.router) { client in
            let chat = "/v1/chat/completions"
            let m = #""model":"smollm2-135m-instruct""#
            let msgs = #""messages":[{"role":"user","content":"hi"}]"#
            let cases: [(String, String?)] = [
                ("{\(m),\(msgs),\"temperature\":-1}", "temperature"),
                ("{\(m),\(msgs),\"temperature\":\"hot\"}", "temperature"),
                ("{\(m),\(msgs),\"top_p\":0}", "top_p"),
                ("{\(m),\(msgs),\"max_tokens\":0}", "max_tokens"),
                ("{\(m),\(msgs),\"max_tokens\":1e400}", "max_tokens"),
                ("{\(m),\(msgs),\"n\":100}", "n"),
                ("{\(m),\(msgs),\"stop\":[1,2]}", "stop"),
                ("{\(m),\(msgs),\"logit_bias\":{\"abc\":1}}", "logit_bias"),
                ("{\(m),\(msgs),\"top_logprobs\":3}", "top_logprobs"),
                ("{\(m),\(msgs),\"stream_options\":{\"include_usage\":true}}", "stream_options"),
                ("{\(m),\(msgs),\"context_length_exceeded_behavior\":\"explode\"}", "context_length_exceeded_behavior"),
                ("{\(m),\(msgs),\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{\"type\":\"wizard\"}}}}", "response_format"),
                ("{\(m),\(msgs),\"response_format\":{\"type\":\"grammar\",\"grammar\":\"root ::= missing\"}}", "response_format"),
                ("{\(m),\(msgs),\"response_format\":{\"type\":\"xml\"}}", "response_format"),
                ("{\(m),\"messages\":[]}", "messages"),
                ("{\(m)}", "messages"),
                ("{\(m),\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}", "messages[0].role"),
                ("{\(m),\"messages\":[{\"role\":\"user\",\"content\":5}]}", "messages[0].content"),
                ("{\(msgs)}", "model"),
                ("{\(m),\(msgs),\"max_tokens\":9000000}", "max_tokens"),
                ("{\"model\":", nil),
                ("[1,2,3]", nil),
                ("", nil),
                (String(repeating: "[", count: 5000), nil),
            ]
            for (body, param) in cases {
                try await expectError(client, chat, body: body, status: .badRequest, param: param)
            }
            // Invalid UTF-8.
            var bad = ByteBuffer(string: "{\(m),\"messages\":[{\"role\":\"user\",\"content\":\"")
            bad.writeBytes([0xC3, 0x28, 0xFF])
            bad.writeString("\"}]}")
            try await client.execute(uri: chat, method: .post, headers: auth, body: bad) { XCTAssertEqual($0.status, .badRequest) }
            try await expectError(client, "/v1/completions", body: "{\(m)}", status: .badRequest, param: "prompt")
            try await expectError(client, "/v1/completions", body: "{\(m),\"prompt\":[999999]}", status: .badRequest, param: "prompt")
            try await expectError(client, "/v1/completions", body: "{\(m),\"prompt\":{}}", status: .badRequest, param: "prompt")
        }
    }

    func testContextLength() async throws {
        try await app(TestServer.shortContext).test(.router) { client in
            let long = String(repeating: "word ", count: 100)
            try await expectError(client, "/v1/completions", body: #"{"model":"smollm2-135m-instruct","prompt":"\#(long)","max_tokens":4}"#,
                                  status: .badRequest, code: "context_length_exceeded")
            let limit = TestServer.shortContext.maxModelLength
            XCTAssertEqual(limit, 64)
            let over = #"{"model":"smollm2-135m-instruct","prompt":"Hello","max_tokens":\#(limit),"temperature":0,"ignore_eos":true"#
            try await expectError(client, "/v1/completions", body: over + "}", status: .badRequest, param: "max_tokens", code: "context_length_exceeded")
            try await client.execute(uri: "/v1/completions", method: .post, headers: auth,
                                     body: ByteBuffer(string: over + #","context_length_exceeded_behavior":"truncate"}"#)) { r in
                XCTAssertEqual(r.status, .ok)
                let o = try self.json(r)
                let usage = try XCTUnwrap(o["usage"] as? [String: Any])
                XCTAssertEqual((usage["prompt_tokens"] as? Int ?? 0) + (usage["completion_tokens"] as? Int ?? 0), limit)
                XCTAssertEqual((o["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String, "length")
            }
        }
    }

    func testAuthModelAndRouteErrors() async throws {
        try await app(TestServer.engine).test(.router) { client in
            let body = #"{"model":"smollm2-135m-instruct","messages":[{"role":"user","content":"hi"}],"max_tokens":1}"#
            try await expectError(client, "/v1/chat/completions", body: body, headers: [:], status: .unauthorized, code: "invalid_api_key")
            try await expectError(client, "/v1/chat/completions", body: body, headers: [.authorization: "Bearer nope"], status: .unauthorized)
            try await expectError(client, "/v1/models", method: .get, body: nil, headers: [.authorization: "Basic a2V5LWE="], status: .unauthorized)
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: [.authorization: "Bearer key-b"], body: ByteBuffer(string: body)) {
                XCTAssertEqual($0.status, .ok)
            }
            try await expectError(client, "/v1/chat/completions", body: #"{"model":"gpt-4","messages":[{"role":"user","content":"hi"}]}"#,
                                  status: .notFound, param: "model", code: "model_not_found")
            try await expectError(client, "/v1/completions", body: #"{"model":"accounts/x/models/other","prompt":"hi"}"#, status: .notFound)
            try await expectError(client, "/v1/nothing-here", method: .get, body: nil, status: .notFound)
            try await expectError(client, "/v1/chat/completions", method: .get, body: nil, status: .notFound)
        }
    }

    func testBodyTooLarge() async throws {
        try await app(TestServer.engine, maxBody: 4096).test(.router) { client in
            let big = #"{"model":"smollm2-135m-instruct","prompt":"\#(String(repeating: "a", count: 10000))"}"#
            try await expectError(client, "/v1/completions", body: big, status: .contentTooLarge)
        }
    }

    func testFullQueueIs429WithRetryAfter() async throws {
        try await app(FailingEngine(base: TestServer.engine, error: EngineError.overloaded(waiting: 8))).test(.router) { client in
            let body = #"{"model":"smollm2-135m-instruct","messages":[{"role":"user","content":"hi"}],"stream":true}"#
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: auth, body: ByteBuffer(string: body)) { r in
                XCTAssertEqual(r.status, .tooManyRequests)
                XCTAssertEqual(r.headers[.retryAfter], "1")
                XCTAssertEqual((try self.json(r)["error"] as? [String: Any])?["type"] as? String, "rate_limit_error")
            }
        }
    }

    func testShutdownIs503AndBugsAre500() async throws {
        struct Bug: Error {}
        let body = #"{"model":"smollm2-135m-instruct","prompt":"hi","max_tokens":1}"#
        try await app(FailingEngine(base: TestServer.engine, error: EngineError.shuttingDown)).test(.router) { client in
            try await self.expectError(client, "/v1/completions", body: body, status: .serviceUnavailable, code: "shutting_down")
        }
        try await app(FailingEngine(base: TestServer.engine, error: Bug())).test(.router) { client in
            try await self.expectError(client, "/v1/completions", body: body, status: .internalServerError, code: "internal_error")
            try await client.execute(uri: "/health", method: .get) { XCTAssertEqual($0.status, .ok) }
        }
    }

    func testNoKeysMeansOpenAccess() async throws {
        try await app(TestServer.engine, keys: []).test(.router) { client in
            try await client.execute(uri: "/v1/models", method: .get) { XCTAssertEqual($0.status, .ok) }
        }
    }
}

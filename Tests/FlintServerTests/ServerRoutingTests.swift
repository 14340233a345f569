import FlintEngine
import FlintJinja
import FlintServer
import FlintTestSupport
import FlintTokenizers
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import XCTest

/// The server over a real `LLMEngine` whose model is the fake executor (no model file):
/// routes, authentication, body limits, parameter validation, SSE framing and stop
/// strings, in the fast tier (`scripts/test --fast`). ServerTests covers the same API on
/// the real model.
final class FakeModelInferenceEngine: InferenceEngine {
    let modelName = "fake-model"
    let created = 1_700_000_000
    let engine: LLMEngine
    var maxModelLength: Int { engine.maxModelLength }
    var tokenizer: Tokenizer { FakeExecutor.tokenizer }
    let chatTemplateSource = ""
    var adapters: LoRARegistry? { nil }

    init() {
        let blocks = 64
        let fake = FakeExecutor(blockSize: 16, blockCount: blocks)
        engine = LLMEngine(executor: fake, tokenizer: FakeExecutor.tokenizer, blockCount: blocks, contextLength: 256,
                           configuration: EngineConfiguration(threads: 1))
    }

    /// The messages' contents one after another (the fake model has no chat template).
    func encodeChat(_ messages: [ChatMessage], tools: [JinjaValue]?) throws -> [Int32] {
        encodePrompt(messages.compactMap(\.content).joined(separator: " "))
    }

    func encodePrompt(_ text: String) -> [Int32] { tokenizer.encode(text, addSpecial: false, parseSpecial: false) }

    func submit(_ request: GenerationRequest) throws -> AsyncThrowingStream<EngineEvent, Error> { try engine.submit(request) }

    func shutdown(gracePeriod: Double) async { engine.shutdown(gracePeriod: gracePeriod) }
}

final class ServerRoutingTests: XCTestCase, @unchecked Sendable {
    private static let engine = FakeModelInferenceEngine()
    private let auth: HTTPFields = [.authorization: "Bearer key-a", .contentType: "application/json"]
    private let model = #""model":"fake-model""#
    private let hello = #""messages":[{"role":"user","content":"hello world"}]"#

    private func app(maxBody: Int = 1 << 16) -> some ApplicationProtocol {
        buildApplication(engine: Self.engine,
                         configuration: ServerConfiguration(apiKeys: ["key-a"], maxBodyBytes: maxBody, cancelOnDisconnect: false),
                         registry: TestServer.registry, logger: Logger(label: "test"))
    }

    private func object(_ r: TestResponse) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any], String(buffer: r.body))
    }

    private func error(_ client: some TestClientProtocol, _ uri: String, method: HTTPRequest.Method = .post, body: String?,
                       headers: HTTPFields? = nil, status: HTTPResponse.Status, param: String? = nil,
                       file: StaticString = #filePath, line: UInt = #line) async throws {
        try await client.execute(uri: uri, method: method, headers: headers ?? auth, body: body.map { ByteBuffer(string: $0) }) { r in
            XCTAssertEqual(r.status, status, String(buffer: r.body), file: file, line: line)
            let e = try XCTUnwrap(try self.object(r)["error"] as? [String: Any], file: file, line: line)
            XCTAssertNotNil(e["message"] as? String, file: file, line: line)
            XCTAssertTrue(e.keys.contains("param") && e.keys.contains("code"), file: file, line: line)
            if let param { XCTAssertEqual(e["param"] as? String, param, file: file, line: line) }
        }
    }

    /// The fake model's greedy continuation of `prompt`, as text.
    private func expectedText(after prompt: String, count: Int) -> String {
        var tokens = Self.engine.encodePrompt(prompt)
        let start = tokens.count
        for _ in 0..<count { tokens.append(FakeExecutor.next(after: tokens)) }
        return FakeExecutor.tokenizer.decode(Array(tokens[start...]))
    }

    func testModelsHealthAndUnknownRoutes() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { XCTAssertEqual($0.status, .ok) }
            try await client.execute(uri: "/v1/models", method: .get, headers: self.auth) { r in
                XCTAssertEqual(r.status, .ok)
                let data = try XCTUnwrap(try self.object(r)["data"] as? [[String: Any]])
                XCTAssertEqual(data.map { $0["id"] as? String }, ["fake-model"])
            }
            try await self.error(client, "/v1/models", method: .get, body: nil, headers: [:], status: .unauthorized)
            try await self.error(client, "/v1/models/other", method: .get, body: nil, status: .notFound, param: "model")
            try await self.error(client, "/v1/nothing-here", method: .get, body: nil, status: .notFound)
        }
    }

    func testChatAndCompletionGiveTheModelsTokens() async throws {
        try await app().test(.router) { client in
            let chat = "{\(self.model),\(self.hello),\"max_tokens\":5,\"temperature\":0,\"return_token_ids\":true}"
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: self.auth, body: ByteBuffer(string: chat)) { r in
                XCTAssertEqual(r.status, .ok, String(buffer: r.body))
                let o = try self.object(r)
                let choice = try XCTUnwrap((o["choices"] as? [[String: Any]])?.first)
                XCTAssertEqual((choice["message"] as? [String: Any])?["content"] as? String, self.expectedText(after: "hello world", count: 5))
                XCTAssertEqual(choice["finish_reason"] as? String, "length")
                XCTAssertEqual((o["usage"] as? [String: Any])?["completion_tokens"] as? Int, 5)
            }
            let completion = "{\(self.model),\"prompt\":\"abc\",\"max_tokens\":4,\"temperature\":0}"
            try await client.execute(uri: "/v1/completions", method: .post, headers: self.auth, body: ByteBuffer(string: completion)) { r in
                XCTAssertEqual(r.status, .ok, String(buffer: r.body))
                let choice = try XCTUnwrap((try self.object(r)["choices"] as? [[String: Any]])?.first)
                XCTAssertEqual(choice["text"] as? String, self.expectedText(after: "abc", count: 4))
            }
        }
    }

    /// A prompt of token ids is one prompt of any length (only lists of prompts are capped at 64).
    func testLongTokenIDPromptIsOnePrompt() async throws {
        let ids = (0..<100).map { 4 + $0 % 60 }
        try await app().test(.router) { client in
            let body = "{\(self.model),\"prompt\":\(ids),\"max_tokens\":3,\"temperature\":0}"
            try await client.execute(uri: "/v1/completions", method: .post, headers: self.auth, body: ByteBuffer(string: body)) { r in
                XCTAssertEqual(r.status, .ok, String(buffer: r.body))
                let o = try self.object(r)
                XCTAssertEqual((o["choices"] as? [[String: Any]])?.count, 1)
                XCTAssertEqual((o["usage"] as? [String: Any])?["prompt_tokens"] as? Int, 100)
            }
            let strings = "[" + Array(repeating: "\"a\"", count: 65).joined(separator: ",") + "]"
            try await self.error(client, "/v1/completions", body: "{\(self.model),\"prompt\":\(strings),\"max_tokens\":1}",
                                 status: .badRequest, param: "prompt")
        }
    }

    func testStreamingFramesAndStopStrings() async throws {
        let full = expectedText(after: "hello world", count: 12)
        let stop = String(full.dropFirst(4).prefix(2))
        try await app().test(.router) { client in
            let body = "{\(self.model),\(self.hello),\"max_tokens\":12,\"temperature\":0,\"stream\":true,\"stop\":[\"\(stop)\"]}"
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: self.auth, body: ByteBuffer(string: body)) { r in
                XCTAssertEqual(r.status, .ok)
                XCTAssertEqual(r.headers[.contentType], "text/event-stream")
                let text = String(buffer: r.body)
                let events = text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
                XCTAssertEqual(events.last, "data: [DONE]")
                var content = ""
                var finish: String?
                for e in events.dropLast() {
                    XCTAssertTrue(e.hasPrefix("data: {"), e)
                    let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(e.dropFirst(6).utf8)) as? [String: Any])
                    for c in o["choices"] as? [[String: Any]] ?? [] {
                        content += ((c["delta"] as? [String: Any])?["content"] as? String) ?? ""
                        if let f = c["finish_reason"] as? String { finish = f }
                    }
                }
                XCTAssertEqual(content, String(full[..<full.range(of: stop)!.lowerBound]))
                XCTAssertEqual(finish, "stop")
            }
        }
    }

    /// Ranges come from the engine (GenerationRequest.validate) and reach the client as a
    /// 400 naming the parameter as the endpoint calls it.
    func testParameterErrorsNameTheParameter() async throws {
        try await app().test(.router) { client in
            let chat = "/v1/chat/completions"
            let cases: [(String, String)] = [
                ("\"temperature\":3", "temperature"), ("\"temperature\":\"hot\"", "temperature"), ("\"top_p\":0", "top_p"),
                ("\"top_k\":-2", "top_k"), ("\"min_p\":2", "min_p"), ("\"presence_penalty\":3", "presence_penalty"),
                ("\"frequency_penalty\":-3", "frequency_penalty"), ("\"repetition_penalty\":0", "repetition_penalty"),
                ("\"max_tokens\":0", "max_tokens"), ("\"n\":17", "n"), ("\"stop\":[\"\"]", "stop"),
                ("\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]", "stop"),
                ("\"logit_bias\":{\"64\":1}", "logit_bias"), ("\"logit_bias\":{\"3\":101}", "logit_bias"),
                ("\"logprobs\":true,\"top_logprobs\":21", "top_logprobs"), ("\"prompt_cache_max_len\":-1", "prompt_cache_max_len"),
            ]
            for (field, param) in cases {
                try await self.error(client, chat, body: "{\(self.model),\(self.hello),\(field)}", status: .badRequest, param: param)
            }
            try await self.error(client, "/v1/completions", body: "{\(self.model),\"prompt\":\"abc\",\"logprobs\":21}",
                                 status: .badRequest, param: "logprobs")
            try await self.error(client, "/v1/completions", body: "{\(self.model),\"prompt\":[99]}", status: .badRequest, param: "prompt")
        }
    }

    func testMalformedBodies() async throws {
        try await app(maxBody: 256).test(.router) { client in
            try await self.error(client, "/v1/chat/completions", body: "{", status: .badRequest)
            try await self.error(client, "/v1/chat/completions", body: "[]", status: .badRequest)
            try await self.error(client, "/v1/chat/completions", body: "{\(self.model)}", status: .badRequest, param: "messages")
            try await self.error(client, "/v1/chat/completions", body: "{\"model\":\"other\",\(self.hello)}", status: .notFound, param: "model")
            let big = "{\(self.model),\"messages\":[{\"role\":\"user\",\"content\":\"\(String(repeating: "a", count: 400))\"}]}"
            try await self.error(client, "/v1/chat/completions", body: big, status: .contentTooLarge)
        }
    }
}

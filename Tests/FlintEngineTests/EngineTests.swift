import FlintEngine
import FlintGrammar
import FlintTestSupport
import FlintTokenizers
import Foundation
import XCTest

/// The continuous-batching engine on the real catalog models.
final class EngineTests: XCTestCase {
    private static let texts = [
        "Hi",
        "The quick brown fox jumps over the lazy dog.",
        "Write a haiku about the sea and the wind, and explain why you chose each image.",
        String(repeating: "Flint serves many requests in one forward pass. ", count: 12),
        "1, 2, 3, 4, 5, 6, 7,",
        String(repeating: "A paged KV cache holds keys and values in fixed-size blocks; ", count: 6),
    ]

    private func engine(_ m: LoadedModel, kvTokens: Int, maxBatched: Int = 512, maxRunning: Int = 64,
                        maxWaiting: Int = 256) -> LLMEngine {
        let bytes = kvTokens * m.model.config.layerCount * m.model.config.kvHeadCount * (m.model.config.headDim + m.model.config.valueDim) * 2
        return LLMEngine(model: m.model, tokenizer: m.tokenizer,
                         configuration: EngineConfiguration(threads: 2, kvCacheBytes: bytes, maxRunningSequences: maxRunning,
                                                            maxBatchedTokens: maxBatched, maxWaitingRequests: maxWaiting,
                                                            promptPieceTokens: 32))
    }

    /// Greedy requests run together — mixed prompt lengths, prompts split into chunks that
    /// share passes with decodes, and a KV pool so small that sequences are preempted and
    /// recomputed — produce exactly the tokens each produces alone (same engine settings:
    /// prompt pieces of 32 tokens, so the 92-token prompt spans three).
    private func checkBatchInvariance(_ name: String) async throws {
        let m = try LoadedModel(path: TestModels.path(name))
        let prompts = Self.texts.map { m.encodeRaw($0) }
        let maxTokens = 12
        let longest = prompts.map(\.count).max()! + maxTokens

        let alone = engine(m, kvTokens: 4096)
        var reference: [[Int32]] = []
        for p in prompts {
            reference.append(try await EngineTestSupport.collect(try alone.submit(GenerationRequest(prompt: p, maxTokens: maxTokens, ignoreEOS: true))).tokens[0])
        }
        alone.shutdown()

        let together = engine(m, kvTokens: longest + 48, maxBatched: 48)
        defer { together.shutdown() }
        let outcomes = try await withThrowingTaskGroup(of: (Int, [Int32]).self) { group in
            for (i, p) in prompts.enumerated() {
                let stream = try together.submit(GenerationRequest(prompt: p, maxTokens: maxTokens, ignoreEOS: true))
                group.addTask { (i, try await EngineTestSupport.collect(stream).tokens[0]) }
            }
            var out = Array(repeating: [Int32](), count: prompts.count)
            for try await (i, t) in group { out[i] = t }
            return out
        }
        for i in prompts.indices {
            XCTAssertEqual(outcomes[i], reference[i], "\(name): prompt \(i) (\(prompts[i].count) tokens)")
            XCTAssertEqual(reference[i].count, maxTokens)
        }
        let s = EngineTestSupport.eventually(together) { $0.activeRequests == 0 }
        XCTAssertGreaterThan(s.preemptions, 0, "\(name): the small pool should force preemption")
        XCTAssertEqual(s.usedBlocks, 0)
    }

    func testBatchInvarianceSmolLM() async throws { try await checkBatchInvariance("smollm2-135m-instruct") }
    func testBatchInvarianceGemma() async throws { try await checkBatchInvariance("gemma-3-270m") }
    func testBatchInvarianceQwen() async throws { try await checkBatchInvariance("qwen2.5-coder-0.5b-instruct") }

    /// Sampled at temperature 1, a grammar-constrained completion always parses.
    private func checkConstrained(_ name: String) async throws {
        let m = try LoadedModel(path: TestModels.path(name))
        let e = engine(m, kvTokens: 4096)
        defer { e.shutdown() }
        let schema = #"{"type":"object","properties":{"city":{"type":"string","maxLength":24},"population":{"type":"integer","minimum":0},"tags":{"type":"array","items":{"enum":["big","old","coastal"]},"maxItems":3}},"required":["city","population"],"additionalProperties":false}"#
        let grammar = try JSONSchemaCompiler.compile(schema: schema)
        let prompt = try m.encodeChat([.user("Describe a city as JSON.")])
        for seed in 1...3 {
            let o = try await EngineTestSupport.collect(try e.submit(GenerationRequest(
                prompt: prompt, sampling: SamplingParameters(temperature: 1, seed: UInt64(seed)), maxTokens: 200, grammar: grammar)))
            let text = o.text[0]
            let object = try XCTUnwrap(try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(name): \(text)")
            XCTAssertNotNil(object["city"] as? String, text)
            XCTAssertGreaterThanOrEqual(object["population"] as? Int ?? -1, 0, text)
            XCTAssertEqual(o.finish[0], .stop, text)
        }
        let labels = try Grammar(gbnf: #"root ::= "positive" | "negative" | "neutral""#)
        let o = try await EngineTestSupport.collect(try e.submit(GenerationRequest(
            prompt: try m.encodeChat([.user("Sentiment of: I love this!")]), sampling: SamplingParameters(temperature: 1, seed: 9),
            maxTokens: 10, grammar: labels)))
        XCTAssertTrue(["positive", "negative", "neutral"].contains(o.text[0]), o.text[0])
    }

    func testConstrainedOutputSmolLM() async throws { try await checkConstrained("smollm2-135m-instruct") }
    func testConstrainedOutputGemma() async throws { try await checkConstrained("gemma-3-270m") }
    func testConstrainedOutputQwen() async throws { try await checkConstrained("qwen2.5-coder-0.5b-instruct") }

    /// A lazy grammar leaves the output alone until its trigger shows, then holds the rest
    /// (from the trigger on) to the grammar.
    func testLazyGrammarStartsAtItsTrigger() async throws {
        let m = try LoadedModel(path: TestModels.path("smollm2-135m-instruct"))
        let e = engine(m, kvTokens: 2048)
        defer { e.shutdown() }
        let prompt = m.encodeRaw("Once upon a time, in a small village by the sea,")
        let free = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: prompt, maxTokens: 24, ignoreEOS: true)))
        // The trigger: the text of a token in the middle of the free output, at its first occurrence.
        let tokens = free.tokens[0]
        let k = tokens.indices.dropFirst(4).first { i in
            let word = m.tokenizer.decode([tokens[i]], skipSpecial: true)
            return word.count >= 2 && !m.tokenizer.decode(Array(tokens[..<i]), skipSpecial: true).contains(word)
        }
        let i = try XCTUnwrap(k, "no usable trigger token in \(free.text[0])")
        let word = m.tokenizer.decode([tokens[i]], skipSpecial: true)
        let before = m.tokenizer.decode(Array(tokens[..<i]), skipSpecial: true)
        let grammar = try Grammar(gbnf: "root ::= \(gbnfLiteral(word)) \" forced end\"")
        let lazy = try await EngineTestSupport.collect(try e.submit(GenerationRequest(
            prompt: prompt, maxTokens: 24, ignoreEOS: true, grammar: grammar, grammarTrigger: GrammarTrigger(words: [word]))))
        XCTAssertEqual(lazy.text[0], before + word + " forced end")
        XCTAssertEqual(lazy.finish[0], .stop)
        XCTAssertEqual(Array(lazy.tokens[0].prefix(i + 1)), Array(tokens.prefix(i + 1)))

        // A prefix trigger ignores whitespace; output that never shows the trigger stays free.
        let never = try await EngineTestSupport.collect(try e.submit(GenerationRequest(
            prompt: prompt, maxTokens: 24, ignoreEOS: true, grammar: grammar, grammarTrigger: GrammarTrigger(words: ["never-seen"], prefixes: ["{ \"x\""]))))
        XCTAssertEqual(never.tokens[0], tokens)
    }

    func testGrammarTriggerMatching() {
        let t = GrammarTrigger(words: ["<call>"], prefixes: [#"{"name""#])
        func match(_ s: String, from: Int = 0) -> Int? { t.match(in: Array(s.utf8), newFrom: from) }
        XCTAssertEqual(match("abc <call> x"), 4)
        XCTAssertNil(match("abc <cal"))
        XCTAssertEqual(match("  {\n  \"name\": 1"), 2)
        XCTAssertNil(match("x {\"name\""))
        XCTAssertNil(match(#"{"nam"#))
        // Only bytes from `newFrom` (minus the word's length) on are searched for words.
        XCTAssertNil(match("<call> and more text", from: 12))
        XCTAssertEqual(match("text <call>", from: 8), 5)
    }

    func testPrefixCacheGivesTheSameAnswer() async throws {
        let m = try LoadedModel(path: TestModels.path("smollm2-135m-instruct"))
        let e = engine(m, kvTokens: 4096)
        defer { e.shutdown() }
        let system = ChatMessage.system(String(repeating: "You are a careful assistant who answers briefly. ", count: 10))
        let a = try m.encodeChat([system, .user("What is the capital of France?")])
        let b = try m.encodeChat([system, .user("Name a large ocean.")])
        let sharedPrefix = zip(a, b).prefix { $0 == $1 }.count
        _ = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: a, maxTokens: 8)))
        let cached = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: b, maxTokens: 16)))
        XCTAssertEqual(cached.usage?.cachedPromptTokens, sharedPrefix / 16 * 16)
        let uncached = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: b, maxTokens: 16, cacheIsolationKey: "other")))
        XCTAssertEqual(uncached.usage?.cachedPromptTokens, 0)
        XCTAssertEqual(cached.tokens[0], uncached.tokens[0])
    }

    func testStopStringsEndTheTextAcrossTokens() async throws {
        let m = try LoadedModel(path: TestModels.path("smollm2-135m-instruct"))
        let e = engine(m, kvTokens: 2048)
        defer { e.shutdown() }
        let prompt = try m.encodeChat([.user("Count from 1 to 20, separated by commas.")])
        let free = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: prompt, maxTokens: 40)))
        let text = free.text[0]
        XCTAssertEqual(text, m.tokenizer.decode(free.tokens[0], skipSpecial: true))
        // A stop string that starts in the middle of the output.
        let start = text.index(text.startIndex, offsetBy: text.count / 2)
        let stop = String(text[start...].prefix(3))
        let stopped = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: prompt, maxTokens: 40, stop: [stop, "never-seen"])))
        XCTAssertEqual(stopped.finish[0], .stop)
        XCTAssertEqual(stopped.text[0], String(text[..<text.range(of: stop)!.lowerBound]))
        XCTAssertFalse(stopped.text[0].contains(stop))
    }

    func testEndOfGenerationAndIgnoreEOS() async throws {
        let m = try LoadedModel(path: TestModels.path("smollm2-135m-instruct"))
        let e = engine(m, kvTokens: 2048)
        defer { e.shutdown() }
        let prompt = try m.encodeChat([.user("Say hello.")])
        let normal = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: prompt, maxTokens: 200)))
        XCTAssertEqual(normal.finish[0], .stop)
        XCTAssertTrue(m.tokenizer.isEndOfGeneration(normal.tokens[0].last!))
        XCTAssertLessThan(normal.tokens[0].count, 200)
        let ignoring = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: prompt, maxTokens: normal.tokens[0].count + 5, ignoreEOS: true)))
        XCTAssertEqual(ignoring.finish[0], .length)
        XCTAssertEqual(ignoring.tokens[0].count, normal.tokens[0].count + 5)
        XCTAssertEqual(Array(ignoring.tokens[0].prefix(normal.tokens[0].count)), normal.tokens[0])
    }

    func testLogprobsDescribeTheSampledToken() async throws {
        let m = try LoadedModel(path: TestModels.path("smollm2-135m-instruct"))
        let e = engine(m, kvTokens: 2048)
        defer { e.shutdown() }
        let o = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: m.encodeRaw("The capital of France is"), maxTokens: 5, logprobs: 3)))
        XCTAssertEqual(o.logprobs[0].count, 5)
        for (lp, token) in zip(o.logprobs[0], o.tokens[0]) {
            XCTAssertEqual(lp.token, token)
            XCTAssertEqual(lp.top.count, 3)
            XCTAssertEqual(lp.top[0].token, token, "greedy picks the most likely token")
            XCTAssertEqual(lp.top[0].logprob, lp.logprob)
            XCTAssertLessThanOrEqual(lp.logprob, 0)
            XCTAssertGreaterThanOrEqual(lp.top[0].logprob, lp.top[1].logprob)
        }
    }

    func testSeededSamplingIsReproducibleInABatch() async throws {
        let m = try LoadedModel(path: TestModels.path("smollm2-135m-instruct"))
        let e = engine(m, kvTokens: 4096)
        defer { e.shutdown() }
        let prompt = try m.encodeChat([.user("Write a short poem about the sea.")])
        let sampling = SamplingParameters(temperature: 1.0, topP: 0.95, seed: 7)
        let alone = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: prompt, sampling: sampling, maxTokens: 24, n: 2)), n: 2)
        async let x = EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: prompt, sampling: sampling, maxTokens: 24, n: 2)), n: 2)
        async let y = EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: m.encodeRaw("Once upon a time"), sampling: sampling, maxTokens: 24)))
        let (batched, _) = try await (x, y)
        XCTAssertEqual(batched.tokens, alone.tokens)
        XCTAssertNotEqual(alone.tokens[0], alone.tokens[1], "the two completions draw different random numbers")
    }

    /// 1,000 requests, a third of them abandoned mid-stream: afterwards every KV block is
    /// free or cached, and resident memory has not grown.
    func testThousandRequestsWithCancellationsLeaveNothingBehind() async throws {
        let m = try LoadedModel(path: TestModels.path("smollm2-135m-instruct"))
        let e = engine(m, kvTokens: 8192, maxWaiting: 1024)
        defer { e.shutdown() }
        let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
        func run(_ range: Range<Int>) async throws -> (finished: Int, cancelled: Int) {
            let r = try await EngineTestSupport.churn(e, range) { i in
                let prompt = m.encodeRaw((0..<(3 + i % 17)).map { words[($0 * 7 + i) % words.count] }.joined(separator: " "))
                return GenerationRequest(prompt: prompt, maxTokens: 6 + i % 5, ignoreEOS: true)
            }
            return (r.finished, r.cancelled)
        }
        let warm = try await run(0..<200)
        _ = EngineTestSupport.eventually(e) { $0.activeRequests == 0 }
        let rssBefore = Self.residentBytes()
        let rest = try await run(200..<1000)
        let s = EngineTestSupport.eventually(e) { $0.activeRequests == 0 }
        let rssAfter = Self.residentBytes()
        XCTAssertEqual(warm.finished + warm.cancelled + rest.finished + rest.cancelled, 1000)
        XCTAssertEqual(warm.cancelled + rest.cancelled, 334)
        XCTAssertEqual(s.activeRequests, 0)
        XCTAssertEqual(s.runningSequences + s.waitingSequences, 0)
        XCTAssertEqual(s.usedBlocks, 0, "every block must be free or cached")
        XCTAssertLessThan(rssAfter - rssBefore, 16 << 20, "RSS grew from \(rssBefore >> 20) MiB to \(rssAfter >> 20) MiB")
    }

    static func residentBytes() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = statm.split(separator: " ")
        return (fields.count > 1 ? Int(fields[1]) ?? 0 : 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

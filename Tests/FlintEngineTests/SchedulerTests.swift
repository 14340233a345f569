import FlintEngine
import FlintLoading
import FlintModels
import FlintTestSupport
import FlintTokenizers
import Foundation
import XCTest

enum EngineTestSupport {
    /// Collects a request's events: tokens and text per completion, finish reasons, usage.
    struct Outcome {
        var tokens: [[Int32]]
        var text: [String]
        var finish: [FinishReason?]
        var usage: Usage?
        var logprobs: [[TokenLogprob]]
    }

    static func collect(_ stream: AsyncThrowingStream<EngineEvent, Error>, n: Int = 1) async throws -> Outcome {
        var o = Outcome(tokens: Array(repeating: [], count: n), text: Array(repeating: "", count: n),
                        finish: Array(repeating: nil, count: n), usage: nil, logprobs: Array(repeating: [], count: n))
        for try await e in stream {
            o.tokens[e.index] += e.tokenIDs
            o.text[e.index] += e.text
            o.logprobs[e.index] += e.logprobs
            if let f = e.finishReason { o.finish[e.index] = f }
            if let u = e.usage { o.usage = u }
        }
        return o
    }

    /// Runs requests `range` through `engine`, 48 in flight; every third (i % 3 == 0) is
    /// abandoned after its second token. Returns how many finished and were abandoned, and
    /// the tokens of each finished one.
    static func churn(_ engine: LLMEngine, _ range: Range<Int>, request: @escaping (Int) -> GenerationRequest) async throws
        -> (finished: Int, cancelled: Int, tokens: [Int: [Int32]]) {
        try await withThrowingTaskGroup(of: (Int, [Int32]?).self) { group in
            var next = range.lowerBound
            var finished = 0, cancelled = 0
            var outputs: [Int: [Int32]] = [:]
            func launch(_ i: Int) throws {
                let stream = try engine.submit(request(i))
                group.addTask {
                    var tokens: [Int32] = []
                    for try await event in stream {
                        tokens += event.tokenIDs
                        if i % 3 == 0 && tokens.count >= 2 { return (i, nil) }
                    }
                    return (i, tokens)
                }
            }
            while next < range.upperBound && next - range.lowerBound < 48 { try launch(next); next += 1 }
            while let (i, tokens) = try await group.next() {
                if let tokens {
                    finished += 1
                    outputs[i] = tokens
                } else {
                    cancelled += 1
                }
                if next < range.upperBound { try launch(next); next += 1 }
            }
            return (finished, cancelled, outputs)
        }
    }

    /// Polls until `condition` holds (the engine publishes its state after each step).
    static func eventually(_ engine: LLMEngine, timeout: TimeInterval = 30, _ condition: (EngineStats) -> Bool) -> EngineStats {
        let deadline = Date().addingTimeInterval(timeout)
        var s = engine.stats
        while !condition(s) && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.005)
            s = engine.stats
        }
        return s
    }
}

/// Scheduler, block manager and prefix cache, through the engine's public API with the fake model.
final class SchedulerTests: XCTestCase {
    private func engine(blocks: Int, blockSize: Int = 4, maxRunning: Int = 8, maxBatched: Int = 32, maxWaiting: Int = 64,
                        contextLength: Int = 4096, piece: Int = 32) -> (LLMEngine, FakeExecutor) {
        let fake = FakeExecutor(blockSize: blockSize, blockCount: blocks)
        var config = EngineConfiguration(threads: 1, maxRunningSequences: maxRunning, maxBatchedTokens: maxBatched,
                                         maxWaitingRequests: maxWaiting, promptPieceTokens: piece)
        config.blockSize = blockSize
        let e = LLMEngine(executor: fake, tokenizer: FakeExecutor.tokenizer, blockCount: blocks,
                          contextLength: contextLength, configuration: config)
        return (e, fake)
    }

    private func prompt(_ length: Int, seed: Int32) -> [Int32] { (0..<Int32(length)).map { 16 + ($0 * 7 + seed * 13) % 48 } }

    private func expected(_ prompt: [Int32], _ n: Int) -> [Int32] {
        var seq = prompt
        for _ in 0..<n { seq.append(FakeExecutor.next(after: seq)) }
        return Array(seq[prompt.count...])
    }

    func testConcurrentRequestsWithChunkingAndPreemptionMatchTheModel() async throws {
        // 12 blocks of 4 tokens cannot hold these sequences together: the scheduler must
        // preempt and recompute, and prompts longer than 8 tokens are prefilled in chunks.
        let (e, fake) = engine(blocks: 12, maxBatched: 8)
        defer { e.shutdown() }
        let lengths = [3, 17, 9, 30, 1, 12, 22, 5]
        let outcomes = try await withThrowingTaskGroup(of: (Int, EngineTestSupport.Outcome).self) { group in
            for (i, n) in lengths.enumerated() {
                let stream = try e.submit(GenerationRequest(prompt: prompt(n, seed: Int32(i)), maxTokens: 10))
                group.addTask { (i, try await EngineTestSupport.collect(stream)) }
            }
            var all: [Int: EngineTestSupport.Outcome] = [:]
            for try await (i, o) in group { all[i] = o }
            return all
        }
        for (i, n) in lengths.enumerated() {
            XCTAssertEqual(outcomes[i]!.tokens[0], expected(prompt(n, seed: Int32(i)), 10), "request \(i)")
            XCTAssertEqual(outcomes[i]!.finish[0], .length)
            XCTAssertEqual(outcomes[i]!.usage?.completionTokens, 10)
            XCTAssertEqual(outcomes[i]!.usage?.promptTokens, n)
        }
        let s = EngineTestSupport.eventually(e) { $0.activeRequests == 0 }
        XCTAssertGreaterThan(s.preemptions, 0, "the tiny pool should have forced preemption")
        XCTAssertEqual(s.usedBlocks, 0)
        XCTAssertLessThanOrEqual(fake.maxRowsInPass, 8)
    }

    /// Decodes go first and a prompt still advances one piece in every pass: a 40-token
    /// prompt arriving while four streams decode (budget 8, pieces of 4) runs in ten
    /// consecutive passes beside all four decodes, instead of waiting for them to finish or
    /// pushing them out of a pass.
    func testDecodesGoFirstAndPromptsProgressEveryPass() async throws {
        let (e, fake) = engine(blocks: 128, maxBatched: 8, piece: 4)
        defer { e.shutdown() }
        fake.delay = 0.002
        var streams: [AsyncThrowingStream<EngineEvent, Error>] = []
        for i in 0..<4 { streams.append(try e.submit(GenerationRequest(prompt: prompt(2, seed: Int32(i)), maxTokens: 40, ignoreEOS: true))) }
        _ = EngineTestSupport.eventually(e) { _ in fake.passes >= 3 }
        let long = prompt(40, seed: 9)
        let longOutcome = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: long, maxTokens: 1, ignoreEOS: true)))
        XCTAssertEqual(longOutcome.tokens[0], expected(long, 1))
        for (i, stream) in streams.enumerated() {
            let tokens = try await EngineTestSupport.collect(stream).tokens[0]
            XCTAssertEqual(tokens, expected(prompt(2, seed: Int32(i)), 40))
        }
        // The long prompt's passes: those with a 4-row entry once the short prompts (2 rows) ran.
        let pieces = fake.passEntries.indices.filter { fake.passEntries[$0].contains(4) }
        XCTAssertEqual(pieces.count, 10, "\(fake.passEntries)")
        XCTAssertEqual(pieces.last! - pieces.first!, 9, "the prompt's pieces run in consecutive passes: \(fake.passEntries)")
        for p in pieces { XCTAssertEqual(fake.passEntries[p].filter { $0 == 1 }.count, 4, "pass \(p): \(fake.passEntries[p])") }
        XCTAssertLessThanOrEqual(fake.maxRowsInPass, 8)
    }

    func testPrefixCacheReusesFullBlocksAndReportsThem() async throws {
        let (e, _) = engine(blocks: 64)
        defer { e.shutdown() }
        let shared = prompt(26, seed: 1)
        let first = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: shared + [20, 21], maxTokens: 4)))
        XCTAssertEqual(first.usage?.cachedPromptTokens, 0)
        // 26 shared tokens = 6 full blocks of 4.
        let second = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: shared + [30, 31, 32], maxTokens: 4)))
        XCTAssertEqual(second.usage?.cachedPromptTokens, 24)
        XCTAssertEqual(second.tokens[0], expected(shared + [30, 31, 32], 4))
        // Another tenant's key shares nothing; a cap limits what is taken.
        let isolated = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: shared, maxTokens: 4, cacheIsolationKey: "tenant-b")))
        XCTAssertEqual(isolated.usage?.cachedPromptTokens, 0)
        let capped = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: shared, maxTokens: 4, promptCacheMaxLength: 10)))
        XCTAssertEqual(capped.usage?.cachedPromptTokens, 8)
        XCTAssertEqual(capped.tokens[0], expected(shared, 4))
        // A prompt that is entirely cached still runs its last block for the logits.
        let again = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: Array(shared.prefix(24)), maxTokens: 4)))
        XCTAssertEqual(again.usage?.cachedPromptTokens, 20)
        XCTAssertEqual(again.tokens[0], expected(Array(shared.prefix(24)), 4))
        let s = EngineTestSupport.eventually(e) { $0.activeRequests == 0 }
        XCTAssertEqual(s.usedBlocks, 0)
        XCTAssertGreaterThan(s.cachedBlocks, 0)
        XCTAssertEqual(s.prefixHitTokens, 24 + 8 + 20)
    }

    func testEvictionReusesCachedBlocksCorrectly() async throws {
        // A pool barely larger than one request: every request evicts older cached blocks.
        let (e, _) = engine(blocks: 10)
        defer { e.shutdown() }
        for i in 0..<20 {
            let p = prompt(20 + i % 7, seed: Int32(i % 5))
            let o = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: p, maxTokens: 8)))
            XCTAssertEqual(o.tokens[0], expected(p, 8), "request \(i)")
        }
        XCTAssertEqual(EngineTestSupport.eventually(e) { $0.activeRequests == 0 }.usedBlocks, 0)
    }

    func testNCompletionsShareThePrompt() async throws {
        let (e, _) = engine(blocks: 64)
        defer { e.shutdown() }
        let p = prompt(22, seed: 3)
        let o = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: p, maxTokens: 5, n: 3)), n: 3)
        for i in 0..<3 {
            XCTAssertEqual(o.tokens[i], expected(p, 5))
            XCTAssertEqual(o.finish[i], .length)
        }
        XCTAssertEqual(o.usage, Usage(promptTokens: 22, completionTokens: 15, cachedPromptTokens: 0))
        // The siblings took the first completion's 5 full prompt blocks from the cache.
        XCTAssertEqual(EngineTestSupport.eventually(e) { $0.activeRequests == 0 }.prefixHitTokens, 2 * 20)
    }

    func testRequestsThatCanNeverFitAreRejected() throws {
        let (e, _) = engine(blocks: 8, contextLength: 64)
        defer { e.shutdown() }
        XCTAssertEqual(e.maxModelLength, 32)
        XCTAssertThrowsError(try e.submit(GenerationRequest(prompt: prompt(30, seed: 0), maxTokens: 3))) {
            XCTAssertEqual($0 as? EngineError, .tooLong(promptTokens: 30, maxTokens: 3, limit: 32))
        }
        XCTAssertThrowsError(try e.submit(GenerationRequest(prompt: [], maxTokens: 3))) { XCTAssertEqual($0 as? EngineError, .emptyPrompt) }
        XCTAssertThrowsError(try e.submit(GenerationRequest(prompt: [99], maxTokens: 3))) { XCTAssertEqual($0 as? EngineError, .invalidToken(99)) }
        XCTAssertThrowsError(try e.submit(GenerationRequest(prompt: [20], maxTokens: 0)))
        XCTAssertThrowsError(try e.submit(GenerationRequest(prompt: [20], sampling: SamplingParameters(temperature: -1))))
        XCTAssertThrowsError(try e.submit(GenerationRequest(prompt: [20], n: 0)))
    }

    func testFullQueueFailsFast() throws {
        let (e, fake) = engine(blocks: 64, maxRunning: 1, maxWaiting: 3)
        defer { e.shutdown(gracePeriod: 0) }
        fake.delay = 0.2
        var streams: [AsyncThrowingStream<EngineEvent, Error>] = []
        var overloaded = 0
        for i in 0..<10 {
            do { streams.append(try e.submit(GenerationRequest(prompt: prompt(4, seed: Int32(i)), maxTokens: 50))) } catch EngineError.overloaded {
                overloaded += 1
            }
        }
        XCTAssertGreaterThan(overloaded, 0)
        XCTAssertGreaterThanOrEqual(streams.count, 3)
    }

    func testCancelledRequestReleasesItsBlocks() async throws {
        let (e, fake) = engine(blocks: 64)
        defer { e.shutdown() }
        fake.delay = 0.002
        let request = GenerationRequest(prompt: prompt(13, seed: 2), maxTokens: 25)
        let task = Task {
            var seen = 0
            for try await event in try e.submit(request) {
                seen += event.tokenIDs.count
                if seen == 3 { break }
            }
            return seen
        }
        let seen = try await task.value
        XCTAssertEqual(seen, 3)
        let s = EngineTestSupport.eventually(e) { $0.activeRequests == 0 }
        XCTAssertEqual(s.activeRequests, 0)
        XCTAssertEqual(s.usedBlocks, 0)
    }

    func testShutdownFinishesInFlightWorkAndRefusesNew() async throws {
        let (e, _) = engine(blocks: 64)
        let stream = try e.submit(GenerationRequest(prompt: prompt(9, seed: 4), maxTokens: 6))
        e.shutdown(gracePeriod: 10)
        let o = try await EngineTestSupport.collect(stream)
        XCTAssertEqual(o.tokens[0], expected(prompt(9, seed: 4), 6))
        XCTAssertThrowsError(try e.submit(GenerationRequest(prompt: [20]))) { XCTAssertEqual($0 as? EngineError, .shuttingDown) }
    }
}

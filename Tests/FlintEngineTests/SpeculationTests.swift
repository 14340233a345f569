import FlintEngine
import FlintTestSupport
import Foundation
import XCTest

/// Speculative decoding through the engine's public API with the fake model, whose next
/// token is a hash of every token read back through the block table: a rejected proposal
/// left in a KV slot that later counts as context, or a prefix-cache block registered with
/// one, changes every token after it.
final class SpeculationTests: XCTestCase {
    private func engine(blocks: Int = 256, blockSize: Int = 4, maxRunning: Int = 16, maxBatched: Int = 64, maxWaiting: Int = 64,
                        speculation: EngineConfiguration.Speculation = .none, k: Int = 6, adaptive: Bool = true)
        -> (LLMEngine, FakeExecutor) {
        let fake = FakeExecutor(blockSize: blockSize, blockCount: blocks)
        var config = EngineConfiguration(threads: 1, maxRunningSequences: maxRunning, maxBatchedTokens: maxBatched,
                                         maxWaitingRequests: maxWaiting, promptPieceTokens: 8)
        config.blockSize = blockSize
        config.speculation = speculation
        config.numSpeculativeTokens = k
        config.adaptiveSpeculation = adaptive
        let e = LLMEngine(executor: fake, tokenizer: FakeExecutor.tokenizer, blockCount: blocks, contextLength: 4096, configuration: config)
        return (e, fake)
    }

    private func prompt(_ length: Int, seed: Int32) -> [Int32] { (0..<Int32(length)).map { 16 + ($0 * 7 + seed * 13) % 48 } }

    private func expected(_ prompt: [Int32], _ n: Int) -> [Int32] {
        var seq = prompt
        for _ in 0..<n { seq.append(FakeExecutor.next(after: seq)) }
        return Array(seq[prompt.count...])
    }

    /// The expected output with a deletion, an insertion and a substitution: proposals must
    /// re-synchronize after each edit.
    private func edited(_ output: [Int32]) -> [Int32] {
        var p = output
        p.removeSubrange(8..<11)
        p.insert(contentsOf: [20, 21, 22], at: 18)
        p[28] = p[28] == 40 ? 41 : 40
        return p
    }

    func testPredictionIsLosslessAndTakesFewerPasses() async throws {
        let p = prompt(13, seed: 1)
        let want = expected(p, 48)
        let (plain, plainFake) = engine()
        let before = plainFake.passes
        let reference = try await EngineTestSupport.collect(try plain.submit(GenerationRequest(prompt: p, maxTokens: 48, ignoreEOS: true)))
        let plainPasses = plainFake.passes - before
        plain.shutdown()
        XCTAssertEqual(reference.tokens[0], want)

        let (e, fake) = engine()
        defer { e.shutdown() }
        let start = fake.passes
        let o = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: p, maxTokens: 48, ignoreEOS: true,
                                                                                  prediction: edited(want))))
        XCTAssertEqual(o.tokens[0], want)
        XCTAssertEqual(o.finish[0], .length)
        let u = try XCTUnwrap(o.usage)
        XCTAssertGreaterThan(u.acceptedPredictionTokens, 24)
        XCTAssertGreaterThan(u.rejectedPredictionTokens, 0)
        XCTAssertEqual(u.completionTokens, 48 + u.rejectedPredictionTokens, "rejected prediction tokens are billed as completion tokens")
        XCTAssertLessThan(fake.passes - start, plainPasses / 2, "accepted proposals should save passes")
        let s = EngineTestSupport.eventually(e) { $0.activeRequests == 0 }
        XCTAssertEqual(s.usedBlocks, 0)
        XCTAssertEqual(s.acceptedSpeculativeTokens, u.acceptedPredictionTokens)
        XCTAssertEqual(s.speculativeTokens, u.acceptedPredictionTokens + u.rejectedPredictionTokens)
    }

    /// A later request whose prompt is an earlier one's prompt and output reuses the earlier
    /// request's blocks from the prefix cache: none may hold a rejected proposal.
    func testRejectedProposalsNeverReachThePrefixCache() async throws {
        let (e, _) = engine(blockSize: 4)
        defer { e.shutdown() }
        let p = prompt(9, seed: 3)
        let want = expected(p, 40)
        // A prediction that is wrong every few tokens.
        let prediction = want.enumerated().map { $0.offset % 5 == 4 ? ($0.element == 30 ? 31 : 30) : $0.element }
        let first = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: p, maxTokens: 40, ignoreEOS: true,
                                                                                      prediction: prediction)))
        XCTAssertEqual(first.tokens[0], want)
        let follow = p + want
        let second = try await EngineTestSupport.collect(try e.submit(GenerationRequest(prompt: follow, maxTokens: 8, ignoreEOS: true)))
        XCTAssertGreaterThanOrEqual(second.usage?.cachedPromptTokens ?? 0, 40)
        XCTAssertEqual(second.tokens[0], expected(follow, 8))
    }

    /// Speculating sequences that run out of blocks are preempted and recomputed like any other.
    func testSpeculationUnderPreemptionAndLimits() async throws {
        let (e, _) = engine(blocks: 40, blockSize: 4, maxRunning: 8, maxBatched: 24, speculation: .ngram, k: 8, adaptive: false)
        defer { e.shutdown() }
        let prompts = (0..<8).map { prompt(5 + $0 * 3, seed: Int32($0)) }
        let outcomes = try await withThrowingTaskGroup(of: (Int, EngineTestSupport.Outcome).self) { group in
            for (i, p) in prompts.enumerated() {
                let want = expected(p, 30)
                let stream = try e.submit(GenerationRequest(prompt: p, maxTokens: 30 - i, ignoreEOS: true,
                                                            prediction: i % 2 == 0 ? edited(want) : []))
                group.addTask { (i, try await EngineTestSupport.collect(stream)) }
            }
            var out: [Int: EngineTestSupport.Outcome] = [:]
            for try await (i, o) in group { out[i] = o }
            return out
        }
        for (i, p) in prompts.enumerated() {
            XCTAssertEqual(outcomes[i]?.tokens[0], expected(p, 30 - i), "request \(i)")
        }
        let s = EngineTestSupport.eventually(e) { $0.activeRequests == 0 }
        XCTAssertGreaterThan(s.preemptions, 0, "the small pool should force preemption")
        XCTAssertGreaterThan(s.speculativeTokens, 0)
        XCTAssertEqual(s.usedBlocks, 0)
    }

    /// A proposal of the stop token ends the completion there, and a stop string inside the
    /// accepted tokens ends the text where it starts.
    func testStopsInsideAcceptedProposals() async throws {
        let (e, _) = engine()
        defer { e.shutdown() }
        let p = prompt(7, seed: 5)
        let want = expected(p, 30)
        var r = GenerationRequest(prompt: p, maxTokens: 30, stopTokenIDs: [want[12]], prediction: want)
        let stopped = try await EngineTestSupport.collect(try e.submit(r))
        let cut = want.firstIndex(of: want[12])!
        XCTAssertEqual(stopped.tokens[0], Array(want[...cut]))
        XCTAssertEqual(stopped.finish[0], .stop)

        let text = FakeExecutor.tokenizer.decode(want)
        let stop = String(text.dropFirst(9).prefix(3))
        r = GenerationRequest(prompt: p, maxTokens: 30, stop: [stop], prediction: want)
        let o = try await EngineTestSupport.collect(try e.submit(r))
        XCTAssertEqual(o.text[0], String(text[..<text.range(of: stop)!.lowerBound]))
        XCTAssertEqual(o.finish[0], .stop)
    }

    /// Sampling keeps its distribution: the first three tokens of 20,000 seeded completions
    /// at temperature 1, with and without a prediction of the likeliest tokens (different
    /// seeds), agree by a chi-square test. The fake puts 46% on its predicted token; the
    /// first token comes from the prompt's pass, the second from a decode row, and the third,
    /// when the second matched the prediction, from the row that verified it.
    func testSampledOutputKeepsItsDistribution() async throws {
        let p = prompt(6, seed: 11)
        let likeliest = expected(p, 3)
        func sample(prediction: [Int32], seedBase: UInt64) async throws -> (histograms: [[Int]], accepted: Int) {
            let (e, fake) = engine(blocks: 4096, maxRunning: 256, maxBatched: 1024, maxWaiting: 1 << 20, adaptive: false)
            fake.peak = 4
            defer { e.shutdown() }
            // First tokens; second tokens after the likeliest first; third after the likeliest two.
            var histograms = [[Int]](repeating: [Int](repeating: 0, count: 64), count: 3)
            try await withThrowingTaskGroup(of: [[Int32]].self) { group in
                for r in 0..<1250 {
                    let sampling = SamplingParameters(temperature: 1, seed: seedBase + UInt64(r) * 16)
                    let stream = try e.submit(GenerationRequest(prompt: p, sampling: sampling, maxTokens: 3, ignoreEOS: true, n: 16,
                                                                prediction: prediction))
                    group.addTask { try await EngineTestSupport.collect(stream, n: 16).tokens }
                }
                for try await completions in group {
                    for t in completions {
                        histograms[0][Int(t[0])] += 1
                        if t[0] == likeliest[0] { histograms[1][Int(t[1])] += 1 }
                        if t[0] == likeliest[0] && t[1] == likeliest[1] { histograms[2][Int(t[2])] += 1 }
                    }
                }
            }
            return (histograms, EngineTestSupport.eventually(e) { $0.activeRequests == 0 }.acceptedSpeculativeTokens)
        }
        let plain = try await sample(prediction: [], seedBase: 1)
        let speculative = try await sample(prediction: likeliest, seedBase: 1 << 40)
        XCTAssertGreaterThan(speculative.accepted, 2000, "the second token should match the prediction about 21% of the time")
        XCTAssertEqual(plain.accepted, 0)
        XCTAssertGreaterThan(speculative.histograms[2].reduce(0, +), 2000)
        for i in 0..<3 {
            XCTAssertGreaterThan(Self.chiSquarePValue(plain.histograms[i], speculative.histograms[i]), 0.01, "token \(i + 1)")
        }
    }

    /// 1,000 speculating requests (prediction or prompt lookup), a third abandoned
    /// mid-stream: afterwards every block is free or cached.
    func testThousandSpeculativeRequestsWithCancellationsLeaveNothingBehind() async throws {
        let (e, _) = engine(blocks: 512, maxRunning: 32, maxBatched: 128, maxWaiting: 1024, speculation: .ngram, adaptive: false)
        defer { e.shutdown() }
        let wants = (0..<1000).map { i in expected(prompt(3 + i % 11, seed: Int32(i)), 12) }
        let r = try await EngineTestSupport.churn(e, 0..<1000) { [self] i in
            GenerationRequest(prompt: prompt(3 + i % 11, seed: Int32(i)), maxTokens: 6 + i % 7, ignoreEOS: true,
                              prediction: i % 2 == 0 ? wants[i].map { $0 % 5 == 0 ? 17 : $0 } : [])
        }
        XCTAssertEqual(r.finished, 666)
        XCTAssertEqual(r.cancelled, 334)
        for (i, tokens) in r.tokens { XCTAssertEqual(tokens, Array(wants[i].prefix(6 + i % 7)), "request \(i)") }
        let s = EngineTestSupport.eventually(e) { $0.activeRequests == 0 }
        XCTAssertEqual(s.runningSequences + s.waitingSequences, 0)
        XCTAssertEqual(s.usedBlocks, 0, "every block must be free or cached")
        XCTAssertGreaterThan(s.acceptedSpeculativeTokens, 1000)
    }

    /// p-value of the two-sample chi-square test of two histograms (bins empty in both are
    /// left out), by the Wilson–Hilferty normal approximation of the chi-square tail.
    static func chiSquarePValue(_ a: [Int], _ b: [Int]) -> Double {
        let na = Double(a.reduce(0, +)), nb = Double(b.reduce(0, +))
        var x = 0.0, bins = 0
        for (ai, bi) in zip(a, b) where ai + bi > 0 {
            let d = Double(ai) * (nb / na).squareRoot() - Double(bi) * (na / nb).squareRoot()
            x += d * d / Double(ai + bi)
            bins += 1
        }
        let k = Double(max(1, bins - 1))
        let z = (pow(x / k, 1.0 / 3) - (1 - 2 / (9 * k))) / (2 / (9 * k)).squareRoot()
        return 0.5 * erfc(z / 2.0.squareRoot())
    }
}

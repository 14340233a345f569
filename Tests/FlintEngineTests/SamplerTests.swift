import FlintEngine
import XCTest

final class SamplerTests: XCTestCase {
    private func sample(_ logits: [Float], _ p: SamplingParameters, history: [Int32] = []) -> Int32 {
        var sampler = Sampler(p)
        var l = logits
        var h = TokenHistory(prompt: [])
        for t in history { h.append(t) }
        return l.withUnsafeMutableBufferPointer { buf in
            for proc in p.processors { proc.process(buf, history: h) }
            return sampler.sample(UnsafeBufferPointer(buf))
        }
    }

    func testGreedyIsArgmax() {
        XCTAssertEqual(sample([0.1, 3, -2, 2.9], .greedy), 1)
        XCTAssertEqual(sample([-5, -4, -6], .greedy), 1)
    }

    func testSameSeedSameDraws() {
        let logits = (0..<500).map { Float(sin(Double($0))) * 3 }
        let p = SamplingParameters(temperature: 1.0, seed: 1234)
        var a = Sampler(p), b = Sampler(p)
        let draws: ([Float], inout Sampler) -> [Int32] = { l, s in
            l.withUnsafeBufferPointer { buf in (0..<50).map { _ in s.sample(buf) } }
        }
        XCTAssertEqual(draws(logits, &a), draws(logits, &b))
        var c = Sampler(SamplingParameters(temperature: 1.0, seed: 99))
        XCTAssertNotEqual(draws(logits, &a), draws(logits, &c))
    }

    func testTopKOneIsGreedy() {
        let logits: [Float] = [1, 5, 4.9, 2]
        for seed in 0..<20 {
            XCTAssertEqual(sample(logits, SamplingParameters(temperature: 2, topK: 1, seed: UInt64(seed))), 1)
        }
    }

    func testTopKRestrictsToBestK() {
        let logits: [Float] = [0, 3, 2.5, 2.8, -1, 0.5]
        for seed in 0..<200 {
            let t = sample(logits, SamplingParameters(temperature: 5, topK: 3, seed: UInt64(seed)))
            XCTAssertTrue([1, 2, 3].contains(t), "token \(t) is outside the top 3")
        }
    }

    func testTopPKeepsSmallestNucleus() {
        // Probabilities ~ [0.64, 0.24, 0.09, 0.03]: top_p 0.8 keeps the first two.
        let logits: [Float] = [2, 1, 0, -1]
        var seen = Set<Int32>()
        for seed in 0..<300 { seen.insert(sample(logits, SamplingParameters(temperature: 1, topP: 0.8, seed: UInt64(seed)))) }
        XCTAssertEqual(seen, [0, 1])
    }

    func testMinPDropsUnlikelyTokens() {
        // Relative probabilities 1, e^-1, e^-3, e^-5: min_p 0.1 keeps the first two.
        let logits: [Float] = [5, 4, 2, 0]
        var seen = Set<Int32>()
        for seed in 0..<300 { seen.insert(sample(logits, SamplingParameters(temperature: 1, minP: 0.1, seed: UInt64(seed)))) }
        XCTAssertEqual(seen, [0, 1])
    }

    func testTemperatureSpreadsDraws() {
        let logits: [Float] = [1, 0.9, 0.8]
        var seen = Set<Int32>()
        for seed in 0..<200 { seen.insert(sample(logits, SamplingParameters(temperature: 1, seed: UInt64(seed)))) }
        XCTAssertEqual(seen.count, 3)
    }

    func testLogitBiasForcesAndBans() {
        XCTAssertEqual(sample([5, 0, 0], SamplingParameters(temperature: 0, logitBias: [2: 100])), 2)
        XCTAssertEqual(sample([5, 4, 0], SamplingParameters(temperature: 0, logitBias: [0: -100])), 1)
    }

    func testPenalties() {
        // Repetition penalty 2 halves the positive logit of a seen token: 5 → 2.5 < 4.
        XCTAssertEqual(sample([5, 4], SamplingParameters(temperature: 0, repetitionPenalty: 2), history: [0]), 1)
        // Frequency penalty grows with the count; presence is flat.
        XCTAssertEqual(sample([5, 4.5], SamplingParameters(temperature: 0, frequencyPenalty: 0.3), history: [0, 0]), 1)
        XCTAssertEqual(sample([5, 4.5], SamplingParameters(temperature: 0, presencePenalty: 0.3), history: [0, 0]), 0)
        XCTAssertEqual(sample([5, 4.5], SamplingParameters(temperature: 0, presencePenalty: 0.6), history: [0]), 1)
    }

    func testRandomSourceIsDeterministicAndUniform() {
        var a = RandomSource(seed: 7), b = RandomSource(seed: 7)
        XCTAssertEqual((0..<10).map { _ in a.next() }, (0..<10).map { _ in b.next() })
        var r = RandomSource(seed: 1)
        let mean = (0..<20_000).reduce(0.0) { acc, _ in acc + r.nextUnit() } / 20_000
        XCTAssertEqual(mean, 0.5, accuracy: 0.02)
    }
}

import Dispatch
import FlintTokenizers

/// A synthetic serving workload for `flint bench --engine`: `requests` prompts of random
/// ordinary tokens, the first `sharedPrefixTokens` of them common to all, sent by
/// `concurrency` clients that each wait for one request to finish before sending the next.
public struct EngineWorkload: Sendable {
    public var requests: Int
    public var concurrency: Int
    public var promptTokens: Int
    public var maxTokens: Int
    public var sharedPrefixTokens: Int
    public var seed: UInt64
    /// Request i uses LoRA slot i % adapters + 1 (0: all use the base model); the slots
    /// must hold adapters.
    public var adapters: Int

    public init(requests: Int, concurrency: Int, promptTokens: Int, maxTokens: Int, sharedPrefixTokens: Int = 0, seed: UInt64 = 1,
                adapters: Int = 0) {
        self.adapters = adapters
        self.requests = requests
        self.concurrency = concurrency
        self.promptTokens = promptTokens
        self.maxTokens = maxTokens
        self.sharedPrefixTokens = sharedPrefixTokens
        self.seed = seed
    }
}

/// What a workload measured; latencies in seconds.
public struct EngineBenchmarkResult: Sendable {
    public var requests: Int
    public var concurrency: Int
    public var wallSeconds: Double
    public var outputTokens: Int
    /// Time to first token of each request, in submission order.
    public var ttft: [Double]
    /// Gaps between consecutive tokens of the same completion.
    public var interTokenLatencies: [Double]
    public var cachedPromptTokens: Int

    public var outputTokensPerSecond: Double { Double(outputTokens) / wallSeconds }

    /// The `p`-th percentile (0...100) by nearest rank.
    public static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }
}

public enum EngineBenchmark {
    /// Prompts of ordinary (non-control, non-end-of-generation) tokens.
    public static func prompts(for workload: EngineWorkload, tokenizer: Tokenizer) -> [[Int32]] {
        let candidates = (0..<Int32(tokenizer.vocabularySize)).filter {
            let type = tokenizer.tokenType($0)
            return (type == nil || type == .normal) && !tokenizer.isEndOfGeneration($0)
        }
        var rng = RandomSource(seed: workload.seed)
        func draw(_ n: Int) -> [Int32] { (0..<n).map { _ in candidates[Int(rng.next() % UInt64(candidates.count))] } }
        let shared = draw(min(workload.sharedPrefixTokens, workload.promptTokens))
        return (0..<workload.requests).map { _ in shared + draw(workload.promptTokens - shared.count) }
    }

    /// Runs the workload (greedy, ignoring end-of-generation so every request produces
    /// `maxTokens` tokens).
    public static func run(_ workload: EngineWorkload, on engine: LLMEngine) async throws -> EngineBenchmarkResult {
        let prompts = prompts(for: workload, tokenizer: engine.tokenizer)
        let started = DispatchTime.now().uptimeNanoseconds
        let perRequest = try await withThrowingTaskGroup(of: [(index: Int, ttft: Double, gaps: [Double], tokens: Int, cached: Int)].self) { group in
            for client in 0..<max(1, workload.concurrency) {
                group.addTask {
                    var out: [(index: Int, ttft: Double, gaps: [Double], tokens: Int, cached: Int)] = []
                    for i in stride(from: client, to: workload.requests, by: max(1, workload.concurrency)) {
                        var request = GenerationRequest(prompt: prompts[i], sampling: .greedy, maxTokens: workload.maxTokens, ignoreEOS: true)
                        if workload.adapters > 0 { request.loraSlot = Int32(i % workload.adapters + 1) }
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        var last = t0
                        var ttft = 0.0
                        var gaps: [Double] = []
                        var usage: Usage?
                        for try await event in try engine.submit(request) {
                            let now = DispatchTime.now().uptimeNanoseconds
                            if !event.tokenIDs.isEmpty {
                                if last == t0 { ttft = Double(now - t0) / 1e9 } else { gaps.append(Double(now - last) / 1e9) }
                                last = now
                            }
                            if let u = event.usage { usage = u }
                        }
                        out.append((i, ttft, gaps, usage?.completionTokens ?? 0, usage?.cachedPromptTokens ?? 0))
                    }
                    return out
                }
            }
            var all: [(index: Int, ttft: Double, gaps: [Double], tokens: Int, cached: Int)] = []
            for try await part in group { all += part }
            return all.sorted { $0.index < $1.index }
        }
        let wall = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return EngineBenchmarkResult(requests: workload.requests, concurrency: workload.concurrency, wallSeconds: wall,
                                     outputTokens: perRequest.reduce(0) { $0 + $1.tokens },
                                     ttft: perRequest.map(\.ttft), interTokenLatencies: perRequest.flatMap(\.gaps),
                                     cachedPromptTokens: perRequest.reduce(0) { $0 + $1.cached })
    }
}

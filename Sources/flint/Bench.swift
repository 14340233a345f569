import ArgumentParser
import FlintEngine
import FlintLoading
import FlintModels
import FlintTensor
import Foundation

/// llama-bench-style throughput: prompt processing, generation, and aggregate
/// batched decoding, each as mean ± sd over repetitions.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure prompt-processing, generation and batched-decode speed, or (--engine) serving throughput and latency.")

    @OptionGroup var options: ModelOptions

    @Option(name: .customShort("p"), help: "Prompt tokens for the prompt-processing test (0 = skip).")
    var promptTokens: Int = 256

    @Option(name: .customShort("n"), help: "Tokens for the generation test (0 = skip).")
    var generateTokens: Int = 128

    @Option(name: [.customShort("d"), .long], help: "Tokens already in the KV cache before each pp and tg test (llama-bench's -d; a multiple of 16).")
    var depth: Int = 0

    @Option(name: .customShort("b"), help: "Comma-separated batch sizes for aggregate decoding (e.g. 1,8,32).")
    var batches: String = ""

    @Option(name: .long, help: "Repetitions of each test.")
    var repetitions: Int = 5

    @Flag(name: .long, help: "Print one JSON array with llama-bench's field names.")
    var json = false

    @Flag(name: .long, help: "Print the generation roofline instead: measured memory read bandwidth / weight bytes read per token.")
    var roofline = false

    @Flag(name: .long, help: "Drive the continuous-batching engine with a synthetic workload instead.")
    var engine = false

    @Option(name: .long, help: "Engine workload: number of requests.")
    var requests: Int = 64

    @Option(name: .long, help: "Engine workload: clients sending requests at the same time.")
    var concurrency: Int = 1

    @Option(name: .customLong("prompt-tokens"), help: "Engine workload: prompt length.")
    var enginePromptTokens: Int = 200

    @Option(name: .customLong("max-tokens"), help: "Engine workload: tokens generated per request (end of generation ignored).")
    var maxTokens: Int = 128

    @Option(name: .customLong("shared-prefix-tokens"), help: "Engine workload: leading prompt tokens common to all requests.")
    var sharedPrefixTokens: Int = 0

    @Option(name: .long, help: "Engine workload: random LoRA adapters to install; requests are spread over them round-robin (0 = base model only).")
    var adapters: Int = 0

    @Option(name: .customLong("lora-rank"), help: "Engine workload: rank of the random adapters.")
    var loraRank: Int = 16

    @Option(name: .customLong("lora-format"), help: "Engine workload: storage format of adapter matrices (f32, f16, q8_0).")
    var loraFormat: String = "q8_0"

    @OptionGroup var engineOptions: EngineOptions

    struct Result {
        let test: String
        let nPrompt: Int, nGen: Int, nBatch: Int
        let samples: [Double]
        var mean: Double { samples.reduce(0, +) / Double(samples.count) }
        var stddev: Double {
            guard samples.count > 1 else { return 0 }
            let m = mean
            return (samples.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(samples.count - 1)).squareRoot()
        }
    }

    func validate() throws {
        guard promptTokens >= 0, generateTokens >= 0, repetitions >= 1 else { throw ValidationError("counts must be positive") }
        guard depth >= 0 && depth % 16 == 0 else { throw ValidationError("--depth must be a multiple of 16 (whole KV blocks)") }
        for b in batchSizes() where b < 1 || b > 512 { throw ValidationError("batch sizes must be in 1...512") }
        guard adapters >= 0, adapters <= 65535, (1...256).contains(loraRank) else {
            throw ValidationError("--adapters must be in 0...65535 and --lora-rank in 1...256")
        }
        guard Self.loraFormats[loraFormat] != nil else { throw ValidationError("--lora-format must be f32, f16 or q8_0") }
        guard requests >= 1, concurrency >= 1, enginePromptTokens >= 1, maxTokens >= 1, sharedPrefixTokens >= 0 else {
            throw ValidationError("--requests, --concurrency, --prompt-tokens and --max-tokens must be at least 1")
        }
    }

    private func batchSizes() -> [Int] {
        batches.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    func run() async throws {
        if engine {
            try await runEngine()
            return
        }
        try await runReportingErrors {
            let loaded = try options.load()
            if roofline {
                printRoofline(loaded)
                return
            }
            try engineOptions.kvCache.check(loaded)
            let model = loaded.model
            let vocab = Int32(model.config.vocabularySize)
            var rng = RandomSource(seed: 1)
            func randomTokens(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(rng.next() % UInt64(vocab)) } }
            var results: [Result] = []

            // Prompt processing and generation run through the engine, as `serve` runs them.
            if promptTokens > 0 || generateTokens > 0 {
                // Room for the depth context, and for every repetition's own tokens without
                // evicting it from the prefix cache.
                let perTest = max(promptTokens + 1, generateTokens + 2, 17)
                let engine = loaded.engine(threads: options.threads, contextTokens: depth + (repetitions + 2) * perTest,
                                           kvCacheType: engineOptions.kvCache.type)
                defer { engine.shutdown(gracePeriod: 0) }
                let context = randomTokens(depth)
                let label = depth > 0 ? "@d\(depth)" : ""
                /// Runs `tokens` after the context to its max_tokens; each request computes all of
                /// its own tokens, and takes exactly the context from the prefix cache.
                func run(_ tokens: [Int32], maxTokens: Int, onToken: () -> Void = {}) async throws {
                    let request = GenerationRequest(prompt: context + tokens, maxTokens: maxTokens, ignoreEOS: true,
                                                    promptCacheMaxLength: depth)
                    for try await e in try engine.submit(request) {
                        onToken()
                        if let u = e.usage, u.cachedPromptTokens != depth {
                            throw ValidationError("the depth context was not in the prefix cache (\(u.cachedPromptTokens) of \(depth) tokens)")
                        }
                    }
                }
                // Warm-up, which also puts the context in the prefix cache.
                let warm = GenerationRequest(prompt: context + randomTokens(16), maxTokens: 1, ignoreEOS: true)
                for try await _ in try engine.submit(warm) {}
                if promptTokens > 0 {
                    var samples: [Double] = []
                    for _ in 0..<repetitions {
                        let prompt = randomTokens(promptTokens)
                        let t = Date()
                        try await run(prompt, maxTokens: 1)
                        samples.append(Double(promptTokens) / Date().timeIntervalSince(t))
                    }
                    results.append(Result(test: "pp\(promptTokens)\(label)", nPrompt: promptTokens, nGen: 0, nBatch: 1, samples: samples))
                }
                if generateTokens > 0 {
                    var samples: [Double] = []
                    for _ in 0..<repetitions {
                        // Timed from the first token (the one-token prompt's pass) to the last.
                        var first: Date?
                        try await run(randomTokens(1), maxTokens: generateTokens + 1) { if first == nil { first = Date() } }
                        samples.append(Double(generateTokens) / Date().timeIntervalSince(first!))
                    }
                    results.append(Result(test: "tg\(generateTokens)\(label)", nPrompt: 0, nGen: generateTokens, nBatch: 1, samples: samples))
                }
            }
            for b in batchSizes() {
                let steps = max(16, min(generateTokens, 64))
                results.append(Result(test: "batch\(b)", nPrompt: 0, nGen: steps, nBatch: b,
                                      samples: (0..<repetitions).map { _ in batchedDecode(model: model, batch: b, steps: steps, start: randomTokens(b)) }))
            }
            report(results, loaded: loaded)
        }
    }

    /// Decodes `batch` independent sequences for `steps` steps, one forward pass per
    /// step; returns aggregate tokens per second.
    private func batchedDecode(model: any CausalLM, batch: Int, steps: Int, start: [Int32]) -> Double {
        let blockSize = 16
        let blocksPerSeq = (steps + 1 + blockSize - 1) / blockSize
        let context = ForwardContext(threads: options.threads)
        let cache = KVCache(shape: model.shape, blockSize: blockSize, blockCount: batch * blocksPerSeq, type: engineOptions.kvCache.type)
        let tables = (0..<batch).map { s in (0..<blocksPerSeq).map { Int32(s * blocksPerSeq + $0) } }
        var tokens = start
        var fb = ForwardBatch()
        let vocab = model.config.vocabularySize
        func step(_ pos: Int) {
            fb.removeAll()
            for s in 0..<batch { fb.append(tokens: [tokens[s]], startPosition: pos, blockTable: tables[s], blockSize: blockSize) }
            let logits = model.forward(fb, cache: cache, context: context)
            for s in 0..<batch {
                tokens[s] = Sampler.argmax(UnsafeBufferPointer(rebasing: logits[(s * vocab)..<((s + 1) * vocab)]))
            }
        }
        step(0)  // warm-up, untimed (as llama-bench's): the new pool's threads and buffers start up here
        let t = Date()
        for pos in 1...steps { step(pos) }
        return Double(batch * steps) / Date().timeIntervalSince(t)
    }

    /// Weight bytes one decoded token reads: every matrix of the blocks plus the
    /// vocabulary projection (the tied embedding when there is no `output.weight`).
    static func weightBytesPerToken(_ loaded: LoadedModel) -> Int {
        let tensors = loaded.gguf.tensors
        let blocks = tensors.filter { $0.name.hasPrefix("blk.") && $0.shape.count == 2 }.reduce(0) { $0 + $1.byteCount }
        let output = loaded.gguf.tensorInfo("output.weight") ?? loaded.gguf.tensorInfo("token_embd.weight")
        return blocks + (output?.byteCount ?? 0)
    }

    /// Best of several passes summing a 1 GiB buffer on all threads, in bytes per second.
    static func measureReadBandwidth(threads: Int) -> Double {
        let count = (1 << 30) / MemoryLayout<SIMD8<UInt64>>.stride
        let buffer = UnsafeMutableBufferPointer<SIMD8<UInt64>>.allocate(capacity: count)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: SIMD8(repeating: 1))
        let pool = ThreadPool(threads: threads)
        var best = 0.0
        for _ in 0..<3 {
            let start = Date()
            var sums = [UInt64](repeating: 0, count: threads)
            sums.withUnsafeMutableBufferPointer { out in
                pool.run { index, total in
                    var acc = SIMD8<UInt64>(repeating: 0)
                    for i in ThreadPool.chunk(count, index, total) { acc &+= buffer[i] }
                    out[index] = acc.wrappedSum()
                }
            }
            precondition(sums.reduce(0, &+) == UInt64(count * 8))
            best = max(best, Double(count * MemoryLayout<SIMD8<UInt64>>.stride) / Date().timeIntervalSince(start))
        }
        return best
    }

    private func printRoofline(_ loaded: LoadedModel) {
        let bytes = Self.weightBytesPerToken(loaded)
        let bandwidth = Self.measureReadBandwidth(threads: options.threads)
        let tokens = bandwidth / Double(bytes)
        if json {
            print("{\"read_bandwidth_gbs\":\(String(format: "%.2f", bandwidth / 1e9)),\"weight_bytes_per_token\":\(bytes),"
                  + "\"roofline_tg_ts\":\(String(format: "%.1f", tokens))}")
        } else {
            print(String(format: "read bandwidth %.2f GB/s, %.1f MB of weights per token, roofline %.1f tok/s",
                         bandwidth / 1e9, Double(bytes) / 1e6, tokens))
        }
    }

    private func report(_ results: [Result], loaded: LoadedModel) {
        let kvType = engineOptions.kvCache.type.rawValue
        if json {
            let rows = results.map { r in
                "{\"test\":\"\(r.test)\",\"n_prompt\":\(r.nPrompt),\"n_gen\":\(r.nGen),\"n_batch\":\(r.nBatch),\"n_depth\":\(r.test.hasPrefix("batch") ? 0 : depth),"
                    + "\"n_threads\":\(options.threads),\"type_k\":\"\(kvType)\",\"type_v\":\"\(kvType)\",\"isa\":\"\(KernelPath.current)\",\"avg_ts\":\(String(format: "%.3f", r.mean)),\"stddev_ts\":\(String(format: "%.3f", r.stddev))}"
            }
            print("[" + rows.joined(separator: ",") + "]")
            return
        }
        print("model: \(options.model) (\(loaded.model.config.architecture)), threads: \(options.threads), kernels: \(KernelPath.current), KV cache: \(kvType), repetitions: \(repetitions)")
        print("test".padding(toLength: 12, withPad: " ", startingAt: 0) + "t/s")
        for r in results {
            print(r.test.padding(toLength: 12, withPad: " ", startingAt: 0) + String(format: "%.2f ± %.2f", r.mean, r.stddev))
        }
    }

    static let loraFormats: [String: DType] = ["f32": .f32, "f16": .f16, "q8_0": .q8_0]

    private func runEngine() async throws {
        let loaded: LoadedModel
        do { loaded = try options.load() } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
        try engineOptions.kvCache.check(loaded)
        var config = engineOptions.configuration(threads: options.threads)
        config.maxWaitingRequests = max(config.maxWaitingRequests, concurrency)
        let llm = LLMEngine(model: loaded.model, tokenizer: loaded.tokenizer, configuration: config,
                            draft: try engineOptions.loadDraft(for: loaded)?.model)
        defer { llm.shutdown(gracePeriod: 0) }
        try engineOptions.checkMaxModelLength(engine: llm, contextLength: loaded.model.config.contextLength)
        var adapterBytes = 0
        if adapters > 0 {
            do {
                let config = loaded.model.config
                let rms = try LoRAAdapter.baseWeightRMS(gguf: loaded.gguf, config: config)
                for i in 0..<adapters {
                    let a = try LoRAAdapter.random(config: config, rank: loraRank, seed: UInt64(i + 1), weightRMS: rms)
                    let w = try LoRAAdapterWeights(adapter: a, config: config, format: Self.loraFormats[loraFormat]!)
                    adapterBytes += w.byteCount
                    try llm.installAdapter(w, slot: Int32(i + 1))
                }
            } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode.failure
            }
        }
        let workload = EngineWorkload(requests: requests, concurrency: concurrency, promptTokens: enginePromptTokens,
                                      maxTokens: maxTokens, sharedPrefixTokens: sharedPrefixTokens, adapters: adapters)
        let r = try await EngineBenchmark.run(workload, on: llm)
        let p = EngineBenchmarkResult.percentile
        let stats = llm.stats
        let acceptance = stats.speculativeTokens == 0 ? 0 : Double(stats.acceptedSpeculativeTokens) / Double(stats.speculativeTokens)
        if json {
            func f(_ x: Double) -> String { String(format: "%.6f", x) }
            print("{\"isa\":\"\(KernelPath.current)\",\"requests\":\(r.requests),\"concurrency\":\(r.concurrency),\"output_tok_s\":\(String(format: "%.3f", r.outputTokensPerSecond)),"
                  + "\"ttft_p50\":\(f(p(r.ttft, 50))),\"ttft_p99\":\(f(p(r.ttft, 99))),"
                  + "\"itl_p50\":\(f(p(r.interTokenLatencies, 50))),\"itl_p99\":\(f(p(r.interTokenLatencies, 99))),"
                  + "\"cached_prompt_tokens\":\(r.cachedPromptTokens),\"adapters\":\(adapters),\"lora_rank\":\(loraRank),"
                  + "\"max_loras\":\(config.maxLorasPerBatch),\"adapter_bytes\":\(adapterBytes),"
                  + "\"speculation\":\"\(config.speculation.rawValue)\",\"spec_proposed_tokens\":\(stats.speculativeTokens),"
                  + "\"spec_accepted_tokens\":\(stats.acceptedSpeculativeTokens),\"spec_acceptance\":\(f(acceptance))}")
            return
        }
        print("model: \(options.model), threads: \(options.threads), kernels: \(KernelPath.current), KV pool: \(llm.blockCount) blocks of \(config.blockSize) tokens")
        print("\(r.requests) requests, concurrency \(r.concurrency), prompt \(enginePromptTokens) tokens (shared prefix \(sharedPrefixTokens)), \(maxTokens) new tokens each")
        print(String(format: "output: %.1f tok/s (%d tokens in %.2f s)", r.outputTokensPerSecond, r.outputTokens, r.wallSeconds))
        print(String(format: "TTFT p50 %.1f ms, p99 %.1f ms; ITL p50 %.1f ms, p99 %.1f ms",
                     p(r.ttft, 50) * 1e3, p(r.ttft, 99) * 1e3, p(r.interTokenLatencies, 50) * 1e3, p(r.interTokenLatencies, 99) * 1e3))
        if r.ttft.count > 1 {
            let rest = r.ttft.dropFirst()
            print(String(format: "TTFT of the first request %.1f ms, mean of the others %.1f ms", r.ttft[0] * 1e3,
                         rest.reduce(0, +) / Double(rest.count) * 1e3))
        }
        print("cached prompt tokens: \(r.cachedPromptTokens)")
        print(String(format: "speculation (%@): %d proposed tokens verified, %d accepted (%.1f%%)", config.speculation.rawValue,
                     stats.speculativeTokens, stats.acceptedSpeculativeTokens, acceptance * 100))
        let cost = llm.stepCost.points.map { String(format: "%d: %.1f", $0.rows, $0.seconds * 1e3) }
        print("measured pass time by rows (ms), which the speculation planner weighs: " + cost.joined(separator: ", "))
        if adapters > 0 {
            let mb = String(format: "%.2f", Double(adapterBytes) / Double(adapters) / 1e6)
            print("adapters: \(adapters) of rank \(loraRank) (\(loraFormat), \(mb) MB each), at most \(config.maxLorasPerBatch) per batch")
        }
    }
}

import ArgumentParser
import Foundation
import FlintEngine
import FlintLoading
import FlintModels

/// `--max-model-len`, for every command that runs requests (serve, bench, chat, generate).
struct ContextLengthOption: ParsableArguments {
    @Option(name: .customLong("max-model-len"), help: "Longest prompt + output per request (default: the model's trained context, capped by the KV cache).")
    var maxModelLength: Int?

    func validate() throws {
        if let maxModelLength, maxModelLength < 1 { throw ValidationError("--max-model-len must be at least 1") }
    }

    /// The limit for a model trained for `trained` tokens: the flag, or the trained context,
    /// never beyond what `kvBytes` of cache hold at `bytesPerToken`.
    func tokens(trained: Int, bytesPerToken: Int, kvBytes: Int = EngineConfiguration.defaultKVCacheBytes) throws -> Int {
        let fits = kvBytes / max(1, bytesPerToken)
        if let asked = maxModelLength {
            guard asked <= trained else {
                throw ValidationError("--max-model-len \(asked) is more than the model's trained context (\(trained) tokens)")
            }
            return asked
        }
        return min(trained, fits)
    }
}

/// `--kv-cache-dtype`, for every command that runs a model.
struct KVCacheTypeOption: ParsableArguments {
    @Option(name: .customLong("kv-cache-dtype"),
            help: "KV cache element type: f16, or q8_0 (53% of the memory per token; head sizes a multiple of 32).")
    var type: KVCacheType = .f16

    /// Refuses a type the model's head sizes cannot use, before any pool is allocated.
    func check(_ loaded: LoadedModel) throws {
        if let reason = type.unsupportedReason(loaded.model.shape) { throw ValidationError("--kv-cache-dtype \(type.rawValue): \(reason)") }
    }
}

extension KVCacheType: ExpressibleByArgument {}
extension EngineConfiguration.Speculation: ExpressibleByArgument {}

/// Engine limits shared by `serve` and `bench --engine`.
struct EngineOptions: ParsableArguments {
    @Option(name: .customLong("kv-cache-memory"), help: "KV cache size in bytes (suffixes K, M, G, KiB, MiB, GiB; default: 1 GiB or a quarter of RAM).")
    var kvCacheMemory: String?

    @Option(name: .customLong("max-num-seqs"), help: "Most sequences per forward pass.")
    var maxRunningSequences: Int = 64

    @Option(name: .customLong("max-num-batched-tokens"), help: "Most tokens per forward pass (longer prompts are prefilled in chunks).")
    var maxBatchedTokens: Int = 512

    @Option(name: .customLong("max-queue"), help: "Requests allowed to wait; beyond that new ones are refused as overloaded.")
    var maxQueue: Int = 256

    @Option(name: .customLong("max-loras"), help: "Most distinct LoRA adapters per forward pass.")
    var maxLoras: Int = EngineConfiguration.defaultMaxLoras

    @OptionGroup var context: ContextLengthOption
    var maxModelLength: Int? { context.maxModelLength }

    @OptionGroup var kvCache: KVCacheTypeOption

    @Option(name: .customLong("speculative"),
            help: "Speculative decoding for requests without a prediction: none, ngram (prompt lookup) or draft (implied by --draft-model). Requests with a prediction always use it.")
    var speculation: EngineConfiguration.Speculation?

    @Option(name: .customLong("draft-model"),
            help: "A smaller model with the same vocabulary that proposes tokens for the model to verify (catalog name or .gguf path).")
    var draftModel: String?

    @Option(name: .customLong("num-speculative-tokens"), help: "Most proposed tokens a sequence verifies per step.")
    var numSpeculativeTokens = 16

    func validate() throws {
        guard (1...4096).contains(maxRunningSequences) else { throw ValidationError("--max-num-seqs must be in 1...4096") }
        guard (1...65536).contains(maxBatchedTokens) else { throw ValidationError("--max-num-batched-tokens must be in 1...65536") }
        guard (1...65535).contains(maxLoras) else { throw ValidationError("--max-loras must be in 1...65535") }
        guard maxQueue >= 1 else { throw ValidationError("--max-queue must be at least 1") }
        guard (1...64).contains(numSpeculativeTokens) else { throw ValidationError("--num-speculative-tokens must be in 1...64") }
        if draftModel != nil, let speculation, speculation != .draft {
            throw ValidationError("--draft-model speculates with the draft model; it cannot be combined with --speculative \(speculation.rawValue)")
        }
        if draftModel == nil && speculation == .draft { throw ValidationError("--speculative draft needs --draft-model") }
        if let text = kvCacheMemory {
            guard let bytes = Self.parseBytes(text) else {
                throw ValidationError("--kv-cache-memory: '\(text)' is not a byte count (e.g. 512M, 2GiB)")
            }
            // The pool is allocated and zeroed at start-up; more than the machine has cannot be.
            let physical = ProcessInfo.processInfo.physicalMemory
            guard UInt64(bytes) <= physical else {
                throw ValidationError("--kv-cache-memory: \(text) is more than this machine's memory (\(physical) bytes)")
            }
        }
    }

    func configuration(threads: Int) -> EngineConfiguration {
        var c = EngineConfiguration(threads: threads, kvCacheBytes: kvCacheMemory.flatMap(Self.parseBytes),
                                    maxRunningSequences: maxRunningSequences, maxBatchedTokens: maxBatchedTokens,
                                    maxWaitingRequests: maxQueue, maxModelLength: maxModelLength, maxLorasPerBatch: maxLoras,
                                    kvCacheType: kvCache.type)
        c.speculation = speculation ?? (draftModel == nil ? .none : .draft)
        c.numSpeculativeTokens = numSpeculativeTokens
        return c
    }

    /// The `--draft-model` (pulled on first use), refused unless it shares `target`'s vocabulary.
    func loadDraft(for target: LoadedModel) throws -> LoadedModel? {
        guard let draftModel else { return nil }
        let draft = try LoadedModel(path: try ModelPuller.resolve(draftModel).path)
        if let reason = target.draftMismatch(draft) {
            throw ValidationError("--draft-model \(draftModel) cannot draft for this model: \(reason)")
        }
        if let reason = kvCache.type.unsupportedReason(draft.model.shape) {
            throw ValidationError("--kv-cache-dtype \(kvCache.type.rawValue) (draft model): \(reason)")
        }
        return draft
    }

    /// A `--max-model-len` the engine cannot hold is an error at start-up, not a silent cap.
    func checkMaxModelLength(engine: LLMEngine, contextLength: Int) throws {
        guard let asked = maxModelLength, asked > engine.maxModelLength else { return }
        let kvTokens = engine.blockCount * engine.configuration.blockSize
        throw ValidationError("--max-model-len \(asked) is more than this engine can hold: the model was trained for \(contextLength) "
                              + "tokens and the KV cache holds \(kvTokens) (raise --kv-cache-memory)")
    }

    /// "1073741824", "512M", "1.5G", "2GiB" → bytes (K/M/G are powers of 1000, KiB/MiB/GiB of 1024).
    static func parseBytes(_ text: String) -> Int? {
        let units: [(String, Double)] = [("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824),
                                         ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("K", 1e3), ("M", 1e6), ("G", 1e9), ("B", 1)]
        var number = Substring(text.trimmingCharacters(in: .whitespaces))
        var scale = 1.0
        for (suffix, value) in units where number.hasSuffix(suffix) {
            number = number.dropLast(suffix.count)
            scale = value
            break
        }
        guard let n = Double(number.trimmingCharacters(in: .whitespaces)), n.isFinite, n > 0, n * scale < 1e15 else { return nil }
        return Int(n * scale)
    }
}

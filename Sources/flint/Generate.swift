import ArgumentParser
import FlintEngine
import FlintGrammar
import FlintLoading
import Foundation

struct Generate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a completion for one prompt (through the same engine as `serve`).")

    @OptionGroup var options: ModelOptions
    @OptionGroup var context: ContextLengthOption
    @OptionGroup var kvCache: KVCacheTypeOption

    @Option(name: .long, help: "The prompt (a user message, unless --raw).")
    var prompt: String

    @Option(name: .long, help: "Maximum number of new tokens.")
    var maxTokens: Int = 128

    @Option(name: .long, help: "Sampling temperature (0 = greedy).")
    var temperature: Float = 0

    @Option(name: .long, help: "Top-k (0 = off).")
    var topK: Int = 0

    @Option(name: .long, help: "Top-p (1 = off).")
    var topP: Float = 1

    @Option(name: .long, help: "Min-p (0 = off).")
    var minP: Float = 0

    @Option(name: .long, help: "Repetition penalty (1 = off).")
    var repetitionPenalty: Float = 1

    @Option(name: .long, help: "Presence penalty (-2...2).")
    var presencePenalty: Float = 0

    @Option(name: .long, help: "Frequency penalty (-2...2).")
    var frequencyPenalty: Float = 0

    @Option(name: .long, help: "Random seed for sampling.")
    var seed: UInt64?

    @Option(name: .long, help: "A string that ends the output (not printed); repeat for several.")
    var stop: [String] = []

    @Option(name: .customLong("json-schema"), help: "Constrain the output to this JSON schema (the schema itself, or @file).")
    var jsonSchema: String?

    @Option(name: .long, help: "Constrain the output to this GBNF grammar (the grammar itself, or @file).")
    var grammar: String?

    @Option(name: .long, help: "A LoRA adapter to apply: a PEFT folder, its .safetensors file, or a GGUF adapter.")
    var lora: String?

    @Option(name: .long, help: "With --json: each token's log-probability and this many top alternatives.")
    var logprobs: Int?

    @Flag(name: .long, help: "Tokenize the prompt as-is (BOS per the model) instead of applying the chat template.")
    var raw = false

    @Flag(name: .long, help: "Print one JSON object instead of streaming text.")
    var json = false

    /// The request for `promptIDs`; its parameters are checked by the engine (the one
    /// place that knows their ranges), before the model is loaded.
    func request(_ promptIDs: [Int32]) -> GenerationRequest {
        let sampling = SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP,
                                          repetitionPenalty: repetitionPenalty, presencePenalty: presencePenalty,
                                          frequencyPenalty: frequencyPenalty, seed: seed)
        return GenerationRequest(prompt: promptIDs, sampling: sampling, maxTokens: maxTokens, stop: stop, logprobs: logprobs)
    }

    func validate() throws {
        do { try request([0]).validate(vocabularySize: 1) } catch { throw ValidationError(error) }
        if jsonSchema != nil && grammar != nil { throw ValidationError("--json-schema and --grammar cannot be combined") }
    }

    /// `--json-schema` / `--grammar` compiled; `@path` reads the text from a file.
    func constraint() throws -> Grammar? {
        func text(_ argument: String) throws -> String {
            guard argument.hasPrefix("@") else { return argument }
            return try String(contentsOfFile: String(argument.dropFirst()), encoding: .utf8)
        }
        if let jsonSchema {
            do { return try JSONSchemaCompiler.compile(schema: try text(jsonSchema)) } catch {
                throw ValidationError("--json-schema: \(error)")
            }
        }
        if let grammar {
            do { return try Grammar(gbnf: try text(grammar)) } catch { throw ValidationError("--grammar: \(error)") }
        }
        return nil
    }

    func run() async throws {
        try await runReportingErrors {
            let grammar = try constraint()
            let loaded = try options.load()
            let promptIDs = raw ? loaded.encodeRaw(prompt) : try loaded.encodeChat([.user(prompt)])
            var request = request(promptIDs)
            request.grammar = grammar
            // The pool holds this request and no more; a request past the limit is refused
            // as the server refuses it.
            try kvCache.check(loaded)
            let limit = try context.tokens(trained: loaded.model.config.contextLength, bytesPerToken: loaded.kvBytesPerToken(kvCache.type),
                                           kvBytes: Int.max)
            let engine = loaded.engine(threads: options.threads, contextTokens: min(limit, promptIDs.count + maxTokens),
                                       maxModelLength: limit, kvCacheType: kvCache.type)
            defer { engine.shutdown(gracePeriod: 0) }
            if let lora {
                let adapter = try LoRAAdapter.load(path: lora)
                _ = try EngineLoRAHost(engine: engine, model: loaded).loadAdapter(adapter, slot: 1)
                request.loraSlot = 1
            }
            var text = ""
            var ids: [Int32] = []
            var tokenLogprobs: [TokenLogprob] = []
            var finish: FinishReason?
            var firstTokenTime: Double?
            let start = Date()
            for try await e in try engine.submit(request) {
                if firstTokenTime == nil { firstTokenTime = Date().timeIntervalSince(start) }
                ids += e.tokenIDs
                tokenLogprobs += e.logprobs
                text += e.text
                if !json { FileHandle.standardOutput.write(Data(e.text.utf8)) }
                if let f = e.finishReason { finish = f }
            }
            let elapsed = Date().timeIntervalSince(start) - (firstTokenTime ?? 0)
            // Decode speed: tokens after the first over the time after the first.
            let tps = ids.count > 1 && elapsed > 0 ? Double(ids.count - 1) / elapsed : 0
            if json {
                print(jsonLine(promptIDs: promptIDs, ids: ids, text: text, finish: finish, logprobs: tokenLogprobs, tps: tps))
            } else {
                FileHandle.standardOutput.write(Data("\n".utf8))  // unbuffered, as the pieces
                FileHandle.standardError.write(Data(String(format: "[%d prompt tokens, %d new tokens, %.1f tok/s, finish: %@]\n",
                                                           promptIDs.count, ids.count, tps, finish?.rawValue ?? "none").utf8))
            }
        }
    }

    /// Written by hand to keep the documented key order.
    private func jsonLine(promptIDs: [Int32], ids: [Int32], text: String, finish: FinishReason?,
                          logprobs: [TokenLogprob], tps: Double) -> String {
        func list(_ a: [Int32]) -> String { "[" + a.map(String.init).joined(separator: ",") + "]" }
        func number(_ x: Float) -> String { x.isFinite ? "\(x)" : "null" }
        let quoted = String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
        var line = "{\"prompt_ids\":\(list(promptIDs)),\"ids\":\(list(ids)),\"text\":\(quoted),"
            + "\"prompt_tokens\":\(promptIDs.count),\"completion_tokens\":\(ids.count),"
            + "\"tokens_per_second\":\(String(format: "%.2f", tps)),\"finish_reason\":\"\(finish?.rawValue ?? "error")\""
        if self.logprobs != nil {
            let items = logprobs.map { lp in
                "{\"token\":\(lp.token),\"logprob\":\(number(lp.logprob)),\"top\":["
                    + lp.top.map { "{\"token\":\($0.token),\"logprob\":\(number($0.logprob))}" }.joined(separator: ",") + "]}"
            }
            line += ",\"logprobs\":[" + items.joined(separator: ",") + "]"
        }
        return line + "}"
    }
}

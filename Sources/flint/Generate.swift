import ArgumentParser
import FlintEngine
import FlintTokenizers
import Foundation

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate a completion for one prompt.")

    @OptionGroup var options: ModelOptions

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

    @Option(name: .long, help: "Random seed for sampling.")
    var seed: UInt64?

    @Flag(name: .long, help: "Tokenize the prompt as-is (BOS per the model) instead of applying the chat template.")
    var raw = false

    @Flag(name: .long, help: "Print one JSON object instead of streaming text.")
    var json = false

    func validate() throws {
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must be >= 0") }
        guard temperature >= 0 && temperature.isFinite else { throw ValidationError("--temperature must be >= 0") }
        guard topK >= 0 else { throw ValidationError("--top-k must be >= 0") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard minP >= 0 && minP <= 1 else { throw ValidationError("--min-p must be in [0, 1]") }
        guard repetitionPenalty > 0 else { throw ValidationError("--repetition-penalty must be > 0") }
    }

    func run() throws {
        try runReportingErrors {
            let loaded = try options.load()
            let promptIDs = raw ? loaded.encodeRaw(prompt) : try loaded.encodeChat([.user(prompt)])
            let generator = Generator(model: loaded.model, threads: options.threads,
                                      contextTokens: promptIDs.count + maxTokens + 1)
            let sampling = SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP,
                                              repetitionPenalty: repetitionPenalty, seed: seed)
            let stops = loaded.tokenizer.endOfGenerationIDs
            var detok = StreamingDetokenizer(tokenizer: loaded.tokenizer, skipSpecial: true)
            var text = ""
            var firstTokenTime: Double?
            let start = Date()
            var ids: [Int32] = []
            if maxTokens > 0 {
                ids = try generator.generate(prompt: promptIDs, maxNewTokens: maxTokens, sampling: sampling, stopTokens: stops) { id in
                    if firstTokenTime == nil { firstTokenTime = Date().timeIntervalSince(start) }
                    if stops.contains(id) { return true }
                    let piece = detok.append(id)
                    text += piece
                    if !json { FileHandle.standardOutput.write(Data(piece.utf8)) }
                    return true
                }
            }
            let tail = detok.flush()
            text += tail
            let elapsed = Date().timeIntervalSince(start) - (firstTokenTime ?? 0)
            // Decode speed: tokens after the first over the time after the first.
            let tps = ids.count > 1 && elapsed > 0 ? Double(ids.count - 1) / elapsed : 0
            if json {
                // Written by hand to keep the documented key order.
                func list(_ a: [Int32]) -> String { "[" + a.map(String.init).joined(separator: ",") + "]" }
                let quoted = String(decoding: try JSONEncoder().encode(text), as: UTF8.self)
                print("{\"prompt_ids\":\(list(promptIDs)),\"ids\":\(list(ids)),\"text\":\(quoted),"
                      + "\"prompt_tokens\":\(promptIDs.count),\"completion_tokens\":\(ids.count),"
                      + "\"tokens_per_second\":\(String(format: "%.2f", tps))}")
            } else {
                print(tail)
                FileHandle.standardError.write(Data(String(format: "[%d prompt tokens, %d new tokens, %.1f tok/s]\n", promptIDs.count, ids.count, tps).utf8))
            }
        }
    }
}

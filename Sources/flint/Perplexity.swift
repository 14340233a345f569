import ArgumentParser
import FlintEngine
import Foundation

struct Perplexity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a model's perplexity on a text file, as llama.cpp's llama-perplexity does.",
        discussion: """
            The text is cut into chunks of --ctx tokens, each evaluated on an empty cache; the second \
            half of every chunk is scored. Prints the running estimate after each chunk, then \
            'Final estimate: PPL = X +/- E' (or one JSON object with --json).
            """)

    @OptionGroup var options: ModelOptions
    @OptionGroup var kvCache: KVCacheTypeOption

    @Option(name: .long, help: "The text file to score (UTF-8).")
    var file: String

    @Option(name: .long, help: "Tokens per chunk (llama-perplexity's -c).")
    var ctx: Int = 512

    @Option(name: .long, help: "Score only the first N chunks (default: all).")
    var chunks: Int?

    @Flag(name: .long, help: "Print one JSON object instead of the running estimates.")
    var json = false

    func validate() throws {
        guard ctx >= 16, ctx % 2 == 0, ctx <= 1 << 20 else { throw ValidationError("--ctx must be an even number from 16 to 1048576") }
        if let chunks, chunks < 1 { throw ValidationError("--chunks must be at least 1") }
    }

    func run() throws {
        try runReportingErrors {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("--file: cannot read '\(file)'") }
            guard let text = String(data: data, encoding: .utf8) else { throw ValidationError("--file: '\(file)' is not UTF-8 text") }
            let loaded = try options.load()
            let tokens = loaded.encodeRaw(text)
            let bos = loaded.tokenizer.addBOS ? loaded.tokenizer.bosID : nil
            try kvCache.check(loaded)
            let evaluator = try PerplexityEvaluator(model: loaded.model, threads: options.threads, context: ctx,
                                                    kvCacheType: kvCache.type)
            let report = try evaluator.evaluate(tokens: tokens, bos: bos, chunks: chunks) { chunk, ppl in
                if !json {
                    FileHandle.standardOutput.write(Data("[\(chunk)]\(String(format: "%.4f", ppl)),".utf8))
                }
            }
            if json {
                let encoder = JSONEncoder()
                encoder.keyEncodingStrategy = .convertToSnakeCase
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print("\nFinal estimate: PPL = \(String(format: "%.4f", report.perplexity)) +/- \(String(format: "%.5f", report.error))"
                      + " (\(report.chunks) chunks of \(report.context) tokens, \(report.scoredTokens) scored)")
            }
        }
    }
}

import ArgumentParser
import FlintEngine
import FlintTokenizers
import Foundation

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with a model in the terminal (multi-turn; /reset clears, /exit or Ctrl-D quits).")

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "Optional system prompt.")
    var system: String?

    @Option(name: .long, help: "Maximum new tokens per answer.")
    var maxTokens: Int = 512

    // SmolLM2's model card recommends temperature 0.2 and top-p 0.9.
    @Option(name: .long, help: "Sampling temperature (0 = greedy).")
    var temperature: Float = 0.2

    @Option(name: .long, help: "Top-p.")
    var topP: Float = 0.9

    @Option(name: .long, help: "Random seed.")
    var seed: UInt64?

    func run() throws {
        try runReportingErrors {
            let loaded = try options.load()
            let generator = Generator(model: loaded.model, threads: options.threads, contextTokens: 4096)
            let sampling = SamplingParameters(temperature: temperature, topP: topP, seed: seed)
            let stops = loaded.tokenizer.endOfGenerationIDs
            var messages: [ChatMessage] = system.map { [.system($0)] } ?? []
            FileHandle.standardError.write(Data("flint chat: \(options.model) (\(loaded.model.config.architecture)); /reset clears, /exit quits\n".utf8))
            while true {
                FileHandle.standardOutput.write(Data("> ".utf8))
                guard let line = readLine() else { print(""); break }
                let input = line.trimmingCharacters(in: .whitespaces)
                if input.isEmpty { continue }
                if input == "/exit" || input == "/quit" { break }
                if input == "/reset" {
                    messages = system.map { [.system($0)] } ?? []
                    continue
                }
                messages.append(.user(input))
                let prompt = try loaded.encodeChat(messages)
                if prompt.count + maxTokens > generator.maxTokens {
                    FileHandle.standardError.write(Data("(the conversation no longer fits the context: /reset starts a new one)\n".utf8))
                    messages.removeLast()
                    continue
                }
                var detok = StreamingDetokenizer(tokenizer: loaded.tokenizer, skipSpecial: true)
                var answer = ""
                try generator.generate(prompt: prompt, maxNewTokens: maxTokens, sampling: sampling, stopTokens: stops) { id in
                    if stops.contains(id) { return true }
                    let piece = detok.append(id)
                    answer += piece
                    FileHandle.standardOutput.write(Data(piece.utf8))
                    return true
                }
                let tail = detok.flush()
                answer += tail
                print(tail)
                messages.append(.assistant(answer))
            }
        }
    }
}

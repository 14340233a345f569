import ArgumentParser
import FlintEngine
import FlintTokenizers
import Foundation

struct Chat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with a model in the terminal (multi-turn; /reset clears, /exit or Ctrl-D quits).")

    @OptionGroup var options: ModelOptions
    @OptionGroup var context: ContextLengthOption
    @OptionGroup var kvCache: KVCacheTypeOption

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

    func request(_ prompt: [Int32]) -> GenerationRequest {
        GenerationRequest(prompt: prompt, sampling: SamplingParameters(temperature: temperature, topP: topP, seed: seed),
                          maxTokens: maxTokens)
    }

    func validate() throws {
        do { try request([0]).validate(vocabularySize: 1) } catch { throw ValidationError(error) }
    }

    func run() async throws {
        try await runReportingErrors {
            let loaded = try options.load()
            // The pool holds the whole conversation (up to --max-model-len); earlier turns stay
            // in the engine's prefix cache, so each answer only computes the new message.
            try kvCache.check(loaded)
            let limit = try context.tokens(trained: loaded.model.config.contextLength, bytesPerToken: loaded.kvBytesPerToken(kvCache.type))
            let engine = loaded.engine(threads: options.threads, contextTokens: limit, kvCacheType: kvCache.type)
            defer { engine.shutdown(gracePeriod: 0) }
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
                if prompt.count + maxTokens > engine.maxModelLength {
                    FileHandle.standardError.write(Data("(the conversation no longer fits the context: /reset starts a new one)\n".utf8))
                    messages.removeLast()
                    continue
                }
                var answer = ""
                for try await e in try engine.submit(request(prompt)) {
                    answer += e.text
                    FileHandle.standardOutput.write(Data(e.text.utf8))
                }
                FileHandle.standardOutput.write(Data("\n".utf8))  // unbuffered, as the pieces
                messages.append(.assistant(answer))
            }
        }
    }
}

import ArgumentParser

@main
struct Flint: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flint",
        abstract: "Flint: fast LLM inference on GGUF models.",
        subcommands: [Serve.self, Chat.self, Generate.self, Tokenize.self, Inspect.self, Pull.self, Bench.self, Perplexity.self, Lora.self, Kernels.self])
}

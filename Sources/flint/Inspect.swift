import ArgumentParser
import FlintEngine
import FlintLoading
import FlintTokenizers
import Foundation

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Describe a model file: architecture, sizes, tensor types, tokenizer.")

    @Option(name: .long, help: "Catalog name or path to a .gguf file.")
    var model: String = ModelCatalog.defaultModel

    @Flag(name: .long, help: "Also list every metadata key.")
    var metadata = false

    func run() throws {
        try runReportingErrors {
            let path = try ModelPuller.resolve(model)
            let gguf = try GGUFFile(path: path.path)
            let config = try ModelConfig(gguf: gguf)
            let tokenizer = try Tokenizer(gguf: gguf)
            let parameters = gguf.tensors.reduce(0) { $0 + $1.elementCount }
            var types: [String: Int] = [:]
            for t in gguf.tensors { types[t.type.description, default: 0] += 1 }
            let template = gguf.metadata["tokenizer.chat_template"]?.stringValue
            func row(_ k: String, _ v: Any) { print(k.padding(toLength: 22, withPad: " ", startingAt: 0) + "\(v)") }
            row("file", path.path)
            row("name", config.name)
            row("architecture", config.architecture)
            row("gguf version", gguf.header.version)
            row("file size", String(format: "%.1f MB", Double(gguf.mapping.size) / 1e6))
            row("parameters", String(format: "%.1f M (%d)", Double(parameters) / 1e6, parameters))
            row("layers", config.layerCount)
            row("hidden size", config.hiddenSize)
            row("feed-forward size", config.feedForwardSize)
            row("attention heads", "\(config.headCount) (kv \(config.kvHeadCount)), head dim \(config.headDim)")
            row("context length", config.contextLength)
            row("rope base", config.ropeBase)
            if config.slidingWindow > 0 {
                row("sliding window", "\(config.slidingWindow) (every \(config.slidingWindowPattern)th layer global, local rope base \(config.ropeBaseLocal))")
            }
            row("vocabulary", config.vocabularySize)
            row("tensor types", types.sorted { $0.value > $1.value }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
            let kind = tokenizer.model == .bytePairEncoding ? "byte-level BPE" : "SentencePiece BPE"
            row("tokenizer", "\(kind) (pre: \(tokenizer.preTokenizerName)), \(tokenizer.vocabularySize) tokens, add BOS: \(tokenizer.addBOS)")
            row("chat template", template.map { "yes (\($0.utf8.count) bytes)" } ?? "no (a built-in fallback is used)")
            if metadata {
                print("")
                for key in gguf.header.keys { row(key, gguf.metadata[key]?.summary ?? "") }
            }
        }
    }
}

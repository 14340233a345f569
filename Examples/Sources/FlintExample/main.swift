// Generates a completion with Flint's engine from another package:
//   flint-example MODEL.gguf "prompt" [max tokens]
import FlintEngine
import Foundation

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: flint-example MODEL.gguf PROMPT [MAX_TOKENS]\n".utf8))
    exit(64)
}
let maxTokens = arguments.count > 3 ? Int(arguments[3]) ?? 32 : 32

do {
    let loaded = try LoadedModel(path: arguments[1])
    let engine = LLMEngine(model: loaded.model, tokenizer: loaded.tokenizer)
    defer { engine.shutdown(gracePeriod: 0) }
    let request = GenerationRequest(prompt: loaded.encodeRaw(arguments[2]), maxTokens: maxTokens)
    var tokens = 0
    for try await event in try engine.submit(request) {
        FileHandle.standardOutput.write(Data(event.text.utf8))
        tokens += event.tokenIDs.count
    }
    print("")
    FileHandle.standardError.write(Data("[\(tokens) tokens, kernels: \(LLMEngine.kernelPath)]\n".utf8))
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}

import ArgumentParser
import FlintEngine
import FlintLoading
import FlintModels
import Foundation

/// `--model` and `--threads`, shared by every command that runs a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Catalog name (pulled on first use) or path to a .gguf file.")
    var model: String = ModelCatalog.defaultModel

    @Option(name: .long, help: "Worker threads (default: one per core).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard threads >= 1 && threads <= 512 else { throw ValidationError("--threads must be between 1 and 512") }
    }

    /// The name clients use: the catalog name, or a file's name without `.gguf`.
    var servedName: String {
        ModelCatalog.entry(named: model) != nil ? model : URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
    }

    func load() throws -> LoadedModel {
        let path = try ModelPuller.resolve(model)
        return try LoadedModel(path: path.path)
    }
}

/// Errors reach the user as one line on stderr and exit status 1, not a stack trace.
func runReportingErrors(_ body: () throws -> Void) throws {
    do { try body() } catch { throw reported(error) }
}

func runReportingErrors(_ body: () async throws -> Void) async throws {
    do { try await body() } catch { throw reported(error) }
}

private func reported(_ error: Error) -> Error {
    if error is ValidationError || error is ExitCode { return error }
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    return ExitCode.failure
}

extension ValidationError {
    /// The engine's refusal of a request (GenerationRequest.validate, the one place that
    /// checks parameter ranges) in the CLI's words: the parameter `top_p` is the flag `--top-p`.
    init(_ error: EngineError) {
        if case .invalidParameter(let name, let reason) = error {
            self.init("--\(name.replacingOccurrences(of: "_", with: "-")) \(reason)")
        } else {
            self.init(error.description)
        }
    }
}

extension LoadedModel {
    /// An engine whose KV pool holds `tokens` tokens (in whole blocks): one conversation or
    /// one request, run the way the server runs them; requests longer than `maxModelLength`
    /// (default: what the pool holds) are refused.
    func engine(threads: Int, contextTokens tokens: Int, maxModelLength: Int? = nil, kvCacheType: KVCacheType) -> LLMEngine {
        var configuration = EngineConfiguration(threads: threads, maxModelLength: maxModelLength, kvCacheType: kvCacheType)
        let blocks = (tokens + configuration.blockSize - 1) / configuration.blockSize
        configuration.kvCacheBytes = max(1, blocks) * configuration.blockSize * kvBytesPerToken(kvCacheType)
        return LLMEngine(model: model, tokenizer: tokenizer, configuration: configuration)
    }
}

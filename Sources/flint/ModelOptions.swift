import ArgumentParser
import FlintEngine
import FlintLoading
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
    do { try body() } catch let e as ValidationError { throw e } catch let e as ExitCode { throw e } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}

import ArgumentParser
import Foundation
import FlintLoading

struct Pull: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Download a catalog model into $FLINT_HOME/models.")

    @Argument(help: "Catalog model name.")
    var name: String

    @Flag(name: .long, help: "Download again even if the file is present.")
    var force = false

    func run() throws {
        try runReportingErrors {
            guard let entry = ModelCatalog.entry(named: name) else { throw ModelPuller.Failure.unknownModel(name) }
            let path = ModelCatalog.path(of: entry.name)
            if !force, FileManager.default.fileExists(atPath: path.path) {
                print(path.path)
                return
            }
            print(try ModelPuller.pull(entry).path)
        }
    }
}


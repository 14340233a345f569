import ArgumentParser
import FlintEngine
import FlintLoading
import FlintTokenizers
import Foundation

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the token ids of a text as one JSON array.")

    @Option(name: .long, help: "Catalog name or path to a .gguf file.")
    var model: String = ModelCatalog.defaultModel

    @Option(name: .long, help: "The text to tokenize.")
    var text: String

    @Flag(name: .long, help: "Recognise special-token text such as <|im_start|>.")
    var parseSpecial = false

    @Flag(name: .long, help: "Add BOS/EOS as the model's metadata asks.")
    var addBos = false

    func run() throws {
        try runReportingErrors {
            // Only the tokenizer is needed: no weights are loaded.
            let gguf = try GGUFFile(path: try ModelPuller.resolve(model).path)
            let tokenizer = try Tokenizer(gguf: gguf)
            let ids = tokenizer.encode(text, addSpecial: addBos, parseSpecial: parseSpecial)
            print("[" + ids.map(String.init).joined(separator: ",") + "]")
        }
    }
}

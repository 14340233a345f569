import ArgumentParser
import FlintEngine
import FlintLoading
import Foundation

/// Where `serve` keeps LoRA adapters and how many it holds in memory.
struct LoRAOptions: ParsableArguments {
    @Option(name: .customLong("lora-dir"), help: "Folder of the adapter store (default: $FLINT_HOME/adapters/<model>).")
    var directory: String?

    @Option(name: .customLong("max-lora-rank"), help: "Largest adapter rank accepted.")
    var maxRank: Int = 64

    @Option(name: .customLong("max-cpu-loras"), help: "Most adapters resident in memory at once (idle ones beyond are evicted).")
    var slots: Int = 128

    @Option(name: .customLong("lora-memory"), help: "Memory for resident adapters, in bytes (suffixes as --kv-cache-memory).")
    var memory: String = "2GiB"

    @Option(name: .customLong("max-adapter-upload"), help: "Largest adapter upload accepted, in bytes.")
    var maxUpload: String = "1GiB"

    func validate() throws {
        guard (1...4096).contains(maxRank) else { throw ValidationError("--max-lora-rank must be in 1...4096") }
        guard (1...4096).contains(slots) else { throw ValidationError("--max-cpu-loras must be in 1...4096") }
        guard EngineOptions.parseBytes(memory) != nil else { throw ValidationError("--lora-memory: '\(memory)' is not a byte count") }
        guard EngineOptions.parseBytes(maxUpload) != nil else { throw ValidationError("--max-adapter-upload: '\(maxUpload)' is not a byte count") }
    }

    var memoryBytes: Int { EngineOptions.parseBytes(memory)! }
    var maxUploadBytes: Int { EngineOptions.parseBytes(maxUpload)! }

    func storeDirectory(model: String) -> String {
        directory ?? ModelCatalog.home.appendingPathComponent("adapters").appendingPathComponent(model).path
    }
}

import ArgumentParser
import FlintLoading
import Foundation

struct Lora: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Work with LoRA adapters.",
        subcommands: [LoraRandom.self, LoraMerge.self])
}

struct LoraRandom: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "random",
        abstract: "Write a PEFT adapter (adapter_config.json + adapter_model.safetensors) with random weights for a base model.")

    @Option(name: .long, help: "Base model: catalog name (pulled on first use) or path to a .gguf file.")
    var base: String = ModelCatalog.defaultModel

    @Option(name: .long, help: "LoRA rank.")
    var rank: Int

    @Option(name: .long, help: "lora_alpha (default: 2 × rank).")
    var alpha: Float?

    @Option(name: .long, help: "Comma-separated projections to adapt: q,k,v,o,gate,up,down (or PEFT names such as q_proj).")
    var targets: String = "q,k,v,o,gate,up,down"

    @Option(name: .long, help: "Random seed; the same seed gives the same adapter.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "RMS of the weight update relative to the base weights' RMS.")
    var strength: Float = LoRAAdapter.defaultRandomStrength

    @Option(name: .long, help: "Output directory (created if missing).")
    var out: String

    func validate() throws {
        guard rank >= 1 && rank <= 1024 else { throw ValidationError("--rank must be between 1 and 1024") }
        if let alpha, !alpha.isFinite || alpha == 0 { throw ValidationError("--alpha must be a non-zero number") }
        guard strength.isFinite && strength >= 0 && strength <= 10 else { throw ValidationError("--strength must be between 0 and 10") }
        _ = try parsedTargets()
    }

    func parsedTargets() throws -> Set<LoRATarget> {
        var set = Set<LoRATarget>()
        for item in targets.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            guard let t = LoRATarget(rawValue: item) ?? LoRATarget(peftName: item) else {
                throw ValidationError("unknown target '\(item)'; use q, k, v, o, gate, up, down")
            }
            set.insert(t)
        }
        guard !set.isEmpty else { throw ValidationError("--targets is empty") }
        return set
    }

    func run() throws {
        try runReportingErrors {
            let path = try ModelPuller.resolve(base)
            let gguf = try GGUFFile(path: path.path)
            let config = try ModelConfig(gguf: gguf)
            let targetSet = try parsedTargets()
            let rms = try LoRAAdapter.baseWeightRMS(gguf: gguf, config: config, targets: targetSet)
            let adapter = try LoRAAdapter.random(config: config, rank: rank, alpha: alpha, targets: targetSet, seed: seed,
                                                 weightRMS: rms, strength: strength, baseModelName: base)
            try adapter.validate(against: config, maxRank: rank)
            try adapter.writePEFT(to: out)
            let summary = targetSet.sorted().map { "\($0.peftName) (weight RMS \(String(format: "%.4f", rms[$0] ?? 0)))" }
            print("wrote \(out): rank \(rank), alpha \(adapter.alpha), \(config.layerCount) layers, "
                + "\(adapter.parameterCount) parameters; targets \(summary.joined(separator: ", "))")
        }
    }
}

struct LoraMerge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Write a GGUF of a base model with an adapter merged into its weights (a reference for the multi-LoRA path).")

    @Option(name: .long, help: "Base model: catalog name (pulled on first use) or path to a .gguf file.")
    var base: String = ModelCatalog.defaultModel

    @Option(name: .long, help: "Adapter: PEFT directory, .safetensors file or GGUF LoRA.")
    var adapter: String

    @Option(name: .long, help: "Output .gguf file.")
    var out: String

    @Option(name: .long, help: "Storage of the merged projections: f16 or f32 (other tensors keep their type).")
    var type: String = "f16"

    func validate() throws {
        guard type == "f16" || type == "f32" else { throw ValidationError("--type must be f16 or f32") }
    }

    func run() throws {
        try runReportingErrors {
            let gguf = try GGUFFile(path: try ModelPuller.resolve(base).path)
            let config = try ModelConfig(gguf: gguf)
            let lora = try LoRAAdapter.load(path: adapter)
            try lora.writeMerged(base: gguf, config: config, type: type == "f32" ? .f32 : .f16, to: out)
            print("wrote \(out): \(base) with \(adapter) merged into \(lora.keys.count) projections (\(type))")
        }
    }
}

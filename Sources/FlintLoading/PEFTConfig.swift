import Foundation

/// The parts of a PEFT `adapter_config.json` that decide how the weights are applied.
/// Settings that would change the math in ways we do not implement (DoRA, biases,
/// transposed weights, per-module ranks, fully trained extra modules) are rejected
/// rather than ignored, since ignoring them would silently produce a different model.
struct PEFTConfig: Sendable {
    var rank: Int
    var alpha: Float
    var useRSLoRA: Bool
    var targets: Set<LoRATarget>
    var baseModelName: String?

    init(json data: Data) throws {
        do {
            self = try JSONDecoder().decode(Decoded.self, from: data).config
        } catch let e as LoRAError {
            throw e
        } catch {
            throw LoRAError.badConfig("not a JSON object (\(error))")
        }
    }

    init(rank: Int, alpha: Float, useRSLoRA: Bool, targets: Set<LoRATarget>, baseModelName: String?) {
        self.rank = rank
        self.alpha = alpha
        self.useRSLoRA = useRSLoRA
        self.targets = targets
        self.baseModelName = baseModelName
    }

    /// `target_modules` as a string is a regular expression that PEFT full-matches
    /// against module paths (or the shorthand `all-linear`); try it on the path of each
    /// supported projection and of the modules we cannot adapt.
    static func targets(fromPattern pattern: String) throws -> Set<LoRATarget> {
        if pattern == "all-linear" { return Set(LoRATarget.allCases) }
        if let t = LoRATarget(peftName: pattern) { return [t] }
        let regex: NSRegularExpression
        do { regex = try NSRegularExpression(pattern: pattern) } catch {
            throw LoRAError.badConfig("target_modules '\(pattern)' is neither a module name nor a valid regular expression")
        }
        func fullMatch(_ s: String) -> Bool {
            let range = NSRange(s.startIndex..., in: s)
            return regex.firstMatch(in: s, options: [.anchored], range: range).map { $0.range == range } ?? false
        }
        for (path, module) in [("model.embed_tokens", "embed_tokens"), ("lm_head", "lm_head")] where fullMatch(path) {
            throw LoRAError.unknownTargetModule(module)
        }
        let found = LoRATarget.allCases.filter { fullMatch("model.layers.0.\($0.peftBlock).\($0.peftName)") }
        guard !found.isEmpty else { throw LoRAError.badConfig("target_modules '\(pattern)' matches none of the supported projections") }
        return Set(found)
    }

    private struct Decoded: Decodable {
        var config: PEFTConfig

        enum Keys: String, CodingKey {
            case r, lora_alpha, use_rslora, target_modules, fan_in_fan_out, bias, use_dora, peft_type
            case rank_pattern, alpha_pattern, modules_to_save, base_model_name_or_path
        }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            func field<T: Decodable>(_ k: Keys, _ what: String) throws -> T? {
                do { return try c.decodeIfPresent(T.self, forKey: k) } catch {
                    throw LoRAError.badConfig("'\(k.rawValue)' is not \(what)")
                }
            }
            if let type: String = try field(.peft_type, "a string"), type.uppercased() != "LORA" {
                throw LoRAError.unsupported("peft_type is '\(type)'; only LORA adapters are supported")
            }
            guard let rank: Int = try field(.r, "an integer") else { throw LoRAError.badConfig("'r' (the rank) is missing") }
            guard rank >= 1, rank <= LoRAAdapter.maxFileRank else {
                throw LoRAError.badConfig("r = \(rank) is outside 1...\(LoRAAdapter.maxFileRank)")
            }
            // PEFT's default lora_alpha is 8.
            let alpha: Double = try field(.lora_alpha, "a number") ?? 8
            guard alpha.isFinite, abs(alpha) <= 1e6 else { throw LoRAError.badConfig("lora_alpha = \(alpha) is not a usable number") }
            let rs: Bool = try field(.use_rslora, "a boolean") ?? false
            if try field(.fan_in_fan_out, "a boolean") ?? false {
                throw LoRAError.unsupported("fan_in_fan_out = true (transposed weights, used by GPT-2 style Conv1D layers)")
            }
            let bias: String = try field(.bias, "a string") ?? "none"
            guard bias == "none" else { throw LoRAError.unsupported("bias = '\(bias)'; only 'none' is supported") }
            if try field(.use_dora, "a boolean") ?? false { throw LoRAError.unsupported("use_dora = true (DoRA)") }
            for k in [Keys.rank_pattern, .alpha_pattern] {
                let pattern: [String: Double]? = try field(k, "an object of numbers")
                if let pattern, !pattern.isEmpty {
                    throw LoRAError.unsupported("\(k.rawValue) (per-module ranks or alphas) is not supported")
                }
            }
            let saved: [String]? = try field(.modules_to_save, "a list of strings")
            if let saved, !saved.isEmpty {
                throw LoRAError.unsupported("modules_to_save \(saved) (fully trained modules) is not supported")
            }
            let targets: Set<LoRATarget>
            if let list = try? c.decode([String].self, forKey: .target_modules) {
                var set = Set<LoRATarget>()
                for entry in list {
                    let module = entry.split(separator: ".").last.map(String.init) ?? entry
                    guard let t = LoRATarget(peftName: module) else { throw LoRAError.unknownTargetModule(entry) }
                    set.insert(t)
                }
                guard !set.isEmpty else { throw LoRAError.badConfig("target_modules is empty") }
                targets = set
            } else if let pattern = try? c.decode(String.self, forKey: .target_modules) {
                targets = try PEFTConfig.targets(fromPattern: pattern)
            } else {
                throw LoRAError.badConfig("target_modules is missing or neither a list of module names nor a string")
            }
            let base: String? = try? c.decodeIfPresent(String.self, forKey: .base_model_name_or_path)
            config = PEFTConfig(rank: rank, alpha: Float(alpha), useRSLoRA: rs, targets: targets, baseModelName: base)
        }
    }
}

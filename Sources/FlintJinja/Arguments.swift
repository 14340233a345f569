/// Positional/keyword argument access for filters, tests and methods,
/// mirroring Python's parameter binding.
struct Arguments {
    let callee: String
    let positional: [JinjaValue]
    let keywords: [(String, JinjaValue)]

    init(_ callee: String, _ positional: [JinjaValue], _ keywords: [(String, JinjaValue)]) {
        self.callee = callee
        self.positional = positional
        self.keywords = keywords
    }

    /// The argument at `index` (0-based, not counting the filtered value) or
    /// passed by keyword `name`.
    func get(_ index: Int, _ name: String) -> JinjaValue? {
        if let kw = keywords.last(where: { $0.0 == name }) { return kw.1 }
        return index < positional.count ? positional[index] : nil
    }

    func bool(_ index: Int, _ name: String, default def: Bool) -> Bool {
        get(index, name)?.isTruthy ?? def
    }

    func int(_ index: Int, _ name: String, default def: Int) throws -> Int {
        guard let v = get(index, name) else { return def }
        switch v {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        case .none: return def
        default: throw JinjaError.type(operation: callee, message: "argument '\(name)' must be an integer, not \(v.typeName)")
        }
    }

    func string(_ index: Int, _ name: String) throws -> String? {
        guard let v = get(index, name) else { return nil }
        switch v {
        case .string(let s): return s
        case .none, .undefined: return nil
        default: throw JinjaError.type(operation: callee, message: "argument '\(name)' must be a string, not \(v.typeName)")
        }
    }

    func requireString(_ index: Int, _ name: String) throws -> String {
        guard let s = try string(index, name) else {
            throw JinjaError.runtime(message: "\(callee)() missing required argument '\(name)'")
        }
        return s
    }

    func require(_ index: Int, _ name: String) throws -> JinjaValue {
        guard let v = get(index, name) else {
            throw JinjaError.runtime(message: "\(callee)() missing required argument '\(name)'")
        }
        return v
    }
}

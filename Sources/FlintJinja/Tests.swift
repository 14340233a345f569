/// Jinja2 built-in tests (`value is name(args)`).
extension Interpreter {
    func applyTest(_ name: String, _ value: JinjaValue, _ positional: [JinjaValue], _ keywords: [(String, JinjaValue)]) throws -> Bool {
        let args = Arguments(name, positional, keywords)
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": return value.isNone
        case "boolean": if case .bool = value { return true }; return false
        case "true": if case .bool(true) = value { return true }; return false
        case "false": if case .bool(false) = value { return true }; return false
        case "integer": if case .int = value { return true }; return false
        case "float": if case .double = value { return true }; return false
        case "number":
            switch value { case .int, .double, .bool: return true; default: return false }
        case "string": if case .string = value { return true }; return false
        case "mapping": if case .object = value { return true }; return false
        case "sequence", "iterable":
            switch value { case .array, .object, .string: return true; default: return false }
        case "callable": if case .callable = value { return true }; return false
        case "sameas":
            let other = try args.require(0, "other")
            switch (value, other) {
            case (.none, .none), (.undefined, .undefined): return true
            case let (.bool(a), .bool(b)): return a == b
            default: return value == other
            }
        case "escaped": return false
        case "lower":
            let s = value.pythonString
            return s.lowercased() == s && s.uppercased() != s
        case "upper":
            let s = value.pythonString
            return s.uppercased() == s && s.lowercased() != s
        case "even", "odd":
            guard let i = Interpreter.integerIndex(value) else {
                throw JinjaError.type(operation: "test '\(name)'", message: "expected an integer, got '\(value.typeName)'")
            }
            return (i % 2 == 0) == (name == "even")
        case "divisibleby":
            let n = try args.require(0, "num")
            guard let a = Interpreter.integerIndex(value), let b = Interpreter.integerIndex(n) else {
                guard let x = value.doubleValue, let y = n.doubleValue, y != 0 else {
                    throw JinjaError.type(operation: "test 'divisibleby'", message: "expected numbers")
                }
                return x.truncatingRemainder(dividingBy: y) == 0
            }
            guard b != 0 else { throw JinjaError.runtime(message: "integer division or modulo by zero") }
            return b == -1 || a % b == 0
        case "eq", "equalto", "==":
            return Operators.equals(value, try args.require(0, "other"))
        case "ne", "!=":
            return !Operators.equals(value, try args.require(0, "other"))
        case "lt", "lessthan", "<":
            return try Operators.compare(value, try args.require(0, "other"), "<") < 0
        case "le", "<=":
            return try Operators.compare(value, try args.require(0, "other"), "<=") <= 0
        case "gt", "greaterthan", ">":
            return try Operators.compare(value, try args.require(0, "other"), ">") > 0
        case "ge", ">=":
            return try Operators.compare(value, try args.require(0, "other"), ">=") >= 0
        case "in":
            return try Operators.contains(try args.require(0, "seq"), value)
        case "filter":
            guard case .string(let f) = value else { return false }
            return Interpreter.filterNames.contains(f)
        case "test":
            guard case .string(let t) = value else { return false }
            return Interpreter.testNames.contains(t)
        default:
            throw JinjaError.unknownTest(name: name)
        }
    }

    static let testNames: Set<String> = [
        "defined", "undefined", "none", "boolean", "true", "false", "integer", "float", "number", "string",
        "mapping", "sequence", "iterable", "callable", "sameas", "escaped", "lower", "upper", "even", "odd",
        "divisibleby", "eq", "equalto", "==", "ne", "!=", "lt", "lessthan", "<", "le", "<=", "gt",
        "greaterthan", ">", "ge", ">=", "in", "filter", "test",
    ]
}

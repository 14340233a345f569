/// A value inside a template: mirrors the Python objects Jinja2 sees when
/// Hugging Face renders a chat template.
public enum JinjaValue: Sendable {
    /// A missing variable or attribute. Prints as an empty string, is falsy,
    /// iterates as empty; calling it is an error.
    case undefined
    /// Python `None`.
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    /// Python list (tuples are represented as arrays too).
    case array([JinjaValue])
    /// Python dict with insertion order preserved.
    case object(JinjaObject)
    /// A macro or function.
    case callable(JinjaCallable)

    /// Builds an ordered object from key/value pairs.
    public static func object(_ pairs: [(String, JinjaValue)]) -> JinjaValue {
        .object(JinjaObject(pairs))
    }

    // MARK: - Accessors

    public var isUndefined: Bool { if case .undefined = self { return true }; return false }
    public var isNone: Bool { if case .none = self { return true }; return false }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var intValue: Int? { if case .int(let i) = self { return i }; return nil }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var doubleValue: Double? {
        switch self {
        case .double(let d): return d
        case .int(let i): return Double(i)
        default: return nil
        }
    }
    public var arrayValue: [JinjaValue]? { if case .array(let a) = self { return a }; return nil }
    public var objectValue: JinjaObject? { if case .object(let o) = self { return o }; return nil }

    /// `obj["key"]` for objects, `nil` otherwise.
    public subscript(key: String) -> JinjaValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    // MARK: - Python semantics

    /// Python truthiness.
    public var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .array(let a): return !a.isEmpty
        case .object(let o): return !o.isEmpty
        case .callable: return true
        }
    }

    /// Python type name, for error messages.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .array: return "list"
        case .object: return "dict"
        case .callable: return "function"
        }
    }

    /// What `{{ value }}` prints: Python `str(value)` (undefined prints nothing).
    public var pythonString: String {
        switch self {
        case .undefined: return ""
        case .string(let s): return s
        default: return pythonRepr
        }
    }

    /// Python `repr(value)`, used inside printed lists and dicts.
    public var pythonRepr: String { repr(depth: 0) }

    private func repr(depth: Int) -> String {
        if depth > 500 { return "..." }
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return JinjaValue.formatDouble(d)
        case .string(let s): return JinjaValue.pythonStringRepr(s)
        case .array(let a): return "[" + a.map { $0.repr(depth: depth + 1) }.joined(separator: ", ") + "]"
        case .object(let o):
            return "{" + o.pairs.map { JinjaValue.pythonStringRepr($0.key) + ": " + $0.value.repr(depth: depth + 1) }.joined(separator: ", ") + "}"
        case .callable(let c): return "<function \(c.name)>"
        }
    }

    /// Python `repr(float)`: shortest round-trip digits, always with a
    /// decimal point or exponent.
    static func formatDouble(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        var s = d.description
        if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            // Python pads the exponent to at least two digits: 1e-05, 1e+16.
            let mantissa = String(s[..<e])
            var exp = String(s[s.index(after: e)...])
            var sign = "+"
            if exp.hasPrefix("-") { sign = "-"; exp.removeFirst() } else if exp.hasPrefix("+") { exp.removeFirst() }
            if exp.count < 2 { exp = "0" + exp }
            var m = mantissa
            if m.hasSuffix(".0") { m.removeLast(2) }
            s = m + "e" + sign + exp
            return s
        }
        if !s.contains(".") { s += ".0" }
        return s
    }

    /// Python `repr(str)`.
    static func pythonStringRepr(_ s: String) -> String {
        let useDouble = s.contains("'") && !s.contains("\"")
        let quote: Character = useDouble ? "\"" : "'"
        var out = String(quote)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "'" where !useDouble: out += "\\'"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + hex(scalar.value, width: 2)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out.append(quote)
        return out
    }

    static func hex(_ v: UInt32, width: Int) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - h.count)) + h
    }
}

extension JinjaValue: Equatable {
    /// Structural equality (an `int` never equals a `double` here; template
    /// `==` uses Python rules instead).
    public static func == (lhs: JinjaValue, rhs: JinjaValue) -> Bool {
        switch (lhs, rhs) {
        case (.undefined, .undefined), (.none, .none): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.double(a), .double(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)): return a == b
        case let (.callable(a), .callable(b)): return a.name == b.name
        default: return false
        }
    }
}

extension JinjaValue: CustomStringConvertible {
    public var description: String { pythonString }
}

extension JinjaValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JinjaValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JinjaValue)...) { self = .object(JinjaObject(elements)) }
}

extension JinjaValue {
    public init(_ value: String) { self = .string(value) }
    public init(_ value: Int) { self = .int(value) }
    public init(_ value: Double) { self = .double(value) }
    public init(_ value: Bool) { self = .bool(value) }
    public init(_ value: [JinjaValue]) { self = .array(value) }
    public init(_ value: JinjaObject) { self = .object(value) }
    public init(_ value: String?) { self = value.map { .string($0) } ?? .none }
}

/// A GGUF metadata value. Arrays keep their element type so that huge vocabularies
/// are stored compactly (`strings`, `floats`, `ints`) rather than as boxed values.
public enum GGUFValue: Sendable, Equatable {
    case uint(UInt64)
    case int(Int64)
    case float(Double)
    case bool(Bool)
    case string(String)
    case strings([String])
    case floats([Float])
    case ints([Int64])
    case array([GGUFValue])

    public var intValue: Int? {
        switch self {
        case .uint(let v): return v <= UInt64(Int.max) ? Int(v) : nil
        case .int(let v): return Int(v)
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .float(let v): return v
        case .uint(let v): return Double(v)
        case .int(let v): return Double(v)
        default: return nil
        }
    }
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
    public var stringArray: [String]? {
        switch self {
        case .strings(let s): return s
        case .array(let a) where a.isEmpty: return []
        default: return nil
        }
    }
    public var floatArray: [Float]? {
        switch self {
        case .floats(let f): return f
        case .ints(let i): return i.map { Float($0) }
        case .array(let a) where a.isEmpty: return []
        default: return nil
        }
    }
    public var intArray: [Int64]? {
        switch self {
        case .ints(let i): return i
        case .array(let a) where a.isEmpty: return []
        default: return nil
        }
    }
    /// Short human-readable form for `flint inspect`.
    public var summary: String {
        switch self {
        case .uint(let v): return "\(v)"
        case .int(let v): return "\(v)"
        case .float(let v): return "\(v)"
        case .bool(let v): return "\(v)"
        case .string(let s): return s.count > 60 ? "\"\(s.prefix(57))...\" (\(s.utf8.count) bytes)" : "\"\(s)\""
        case .strings(let a): return "[\(a.count) strings]"
        case .floats(let a): return "[\(a.count) floats]"
        case .ints(let a): return "[\(a.count) ints]"
        case .array(let a): return "[\(a.count) values]"
        }
    }
}

import Foundation

extension JinjaValue {
    // MARK: - Building from JSONSerialization output

    /// Converts the output of `JSONSerialization` (or plain Swift values:
    /// `String`, `Int`, `Double`, `Bool`, `[Any]`, `[String: Any]`, `nil`/`NSNull`)
    /// into a value. Dictionaries from `JSONSerialization` have no order, so
    /// their keys are sorted; use `parseJSON(_:)` to keep document order.
    public init(json: Any?) {
        guard let json else { self = .none; return }
        if let v = json as? JinjaValue { self = v; return }
        if type(of: json) == Bool.self, let b = json as? Bool { self = .bool(b); return }
        if type(of: json) == Int.self, let i = json as? Int { self = .int(i); return }
        if type(of: json) == Double.self, let d = json as? Double { self = .double(d); return }
        if let s = json as? String { self = .string(s); return }
        if json is NSNull { self = .none; return }
        if let n = json as? NSNumber {
            let t = String(cString: n.objCType)
            if t == "c" || t == "B" || String(describing: type(of: json)).contains("Boolean") {
                self = .bool(n.boolValue)
            } else if t == "d" || t == "f" {
                self = .double(n.doubleValue)
            } else if t == "Q", n.uint64Value > UInt64(Int.max) {
                self = .double(n.doubleValue)
            } else {
                self = .int(n.intValue)
            }
            return
        }
        if let a = json as? [Any?] { self = .array(a.map { JinjaValue(json: $0) }); return }
        if let a = json as? [Any] { self = .array(a.map { JinjaValue(json: $0) }); return }
        if let d = json as? [String: Any?] {
            self = .object(JinjaObject(d.keys.sorted().map { ($0, JinjaValue(json: d[$0] ?? nil)) }))
            return
        }
        if let d = json as? [String: Any] {
            self = .object(JinjaObject(d.keys.sorted().map { ($0, JinjaValue(json: d[$0])) }))
            return
        }
        self = .string(String(describing: json))
    }

    // MARK: - Order-preserving parser

    /// Parses a JSON document, keeping object keys in document order.
    /// Integers that fit in `Int` become `.int`, other numbers `.double`.
    public static func parseJSON(_ string: String) throws -> JinjaValue {
        var parser = JSONParser(bytes: Array(string.utf8))
        return try parser.parseDocument()
    }

    /// Parses JSON from UTF-8 data, keeping object keys in document order.
    public static func parseJSON(_ data: Data) throws -> JinjaValue {
        var parser = JSONParser(bytes: Array(data))
        return try parser.parseDocument()
    }

    // MARK: - Serialization (Python json.dumps)

    /// Serializes like Python's `json.dumps(value, ensure_ascii=..., indent=...,
    /// separators=..., sort_keys=...)`. `indent` may be a number of spaces or
    /// a string. Default separators follow Python: `(", ", ": ")` without
    /// indent, `(",", ": ")` with indent.
    public func toJSON(ensureASCII: Bool = false, indent: String? = nil, itemSeparator: String? = nil,
                       keySeparator: String = ": ", sortKeys: Bool = false) throws -> String {
        var out = ""
        let itemSep = itemSeparator ?? (indent == nil ? ", " : ",")
        try writeJSON(into: &out, ensureASCII: ensureASCII, indent: indent, level: 0,
                      itemSeparator: itemSep, keySeparator: keySeparator, sortKeys: sortKeys, depth: 0)
        return out
    }

    private func writeJSON(into out: inout String, ensureASCII: Bool, indent: String?, level: Int,
                           itemSeparator: String, keySeparator: String, sortKeys: Bool, depth: Int) throws {
        if depth > 512 { throw JinjaError.limitExceeded(what: "JSON nesting depth", limit: 512) }
        switch self {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isNaN { out += "NaN" } else if d.isInfinite { out += d < 0 ? "-Infinity" : "Infinity" } else { out += JinjaValue.formatDouble(d) }
        case .string(let s): JinjaValue.writeJSONString(s, into: &out, ensureASCII: ensureASCII)
        case .array(let a):
            if a.isEmpty { out += "[]"; return }
            out += "["
            let inner = indent.map { "\n" + String(repeating: $0, count: level + 1) }
            for (i, v) in a.enumerated() {
                if i > 0 { out += itemSeparator }
                if let inner { out += inner }
                try v.writeJSON(into: &out, ensureASCII: ensureASCII, indent: indent, level: level + 1,
                                itemSeparator: itemSeparator, keySeparator: keySeparator, sortKeys: sortKeys, depth: depth + 1)
            }
            if let indent { out += "\n" + String(repeating: indent, count: level) }
            out += "]"
        case .object(let o):
            if o.isEmpty { out += "{}"; return }
            out += "{"
            let inner = indent.map { "\n" + String(repeating: $0, count: level + 1) }
            var pairs = o.pairs
            if sortKeys { pairs.sort { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) } }
            for (i, pair) in pairs.enumerated() {
                if i > 0 { out += itemSeparator }
                if let inner { out += inner }
                JinjaValue.writeJSONString(pair.key, into: &out, ensureASCII: ensureASCII)
                out += keySeparator
                try pair.value.writeJSON(into: &out, ensureASCII: ensureASCII, indent: indent, level: level + 1,
                                         itemSeparator: itemSeparator, keySeparator: keySeparator, sortKeys: sortKeys, depth: depth + 1)
            }
            if let indent { out += "\n" + String(repeating: indent, count: level) }
            out += "}"
        case .undefined:
            throw JinjaError.type(operation: "tojson", message: "Object of type Undefined is not JSON serializable")
        case .callable(let c):
            throw JinjaError.type(operation: "tojson", message: "Object of type function '\(c.name)' is not JSON serializable")
        }
    }

    static func writeJSONString(_ s: String, into out: inout String, ensureASCII: Bool) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || (ensureASCII && scalar.value >= 0x7F) {
                    if scalar.value > 0xFFFF {
                        let v = scalar.value - 0x10000
                        out += "\\u" + hex(0xD800 + (v >> 10), width: 4)
                        out += "\\u" + hex(0xDC00 + (v & 0x3FF), width: 4)
                    } else {
                        out += "\\u" + hex(scalar.value, width: 4)
                    }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

/// A small strict JSON parser that keeps object key order.
struct JSONParser {
    let bytes: [UInt8]
    var pos = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
        // Skip a UTF-8 byte order mark.
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { pos = 3 }
    }

    private func error(_ message: String) -> JinjaError {
        .runtime(message: "invalid JSON at offset \(pos): \(message)")
    }

    mutating func parseDocument() throws -> JinjaValue {
        let v = try parseValue(depth: 0)
        skipWhitespace()
        if pos != bytes.count { throw error("unexpected trailing characters") }
        return v
    }

    private mutating func skipWhitespace() {
        while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x0A || bytes[pos] == 0x0D || bytes[pos] == 0x09 { pos += 1 }
    }

    private mutating func expectLiteral(_ word: String, _ value: JinjaValue) throws -> JinjaValue {
        let w = Array(word.utf8)
        guard pos + w.count <= bytes.count, Array(bytes[pos..<(pos + w.count)]) == w else { throw error("invalid literal") }
        pos += w.count
        return value
    }

    private mutating func parseValue(depth: Int) throws -> JinjaValue {
        if depth > 512 { throw error("nesting too deep") }
        skipWhitespace()
        guard pos < bytes.count else { throw error("unexpected end of input") }
        switch bytes[pos] {
        case UInt8(ascii: "{"):
            pos += 1
            var obj = JinjaObject()
            skipWhitespace()
            if pos < bytes.count && bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(obj) }
            while true {
                skipWhitespace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw error("expected string key") }
                let key = try parseString()
                skipWhitespace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw error("expected ':'") }
                pos += 1
                obj[key] = try parseValue(depth: depth + 1)
                skipWhitespace()
                guard pos < bytes.count else { throw error("unexpected end of input") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(obj) }
                throw error("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            pos += 1
            var arr: [JinjaValue] = []
            skipWhitespace()
            if pos < bytes.count && bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(arr) }
            while true {
                arr.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard pos < bytes.count else { throw error("unexpected end of input") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(arr) }
                throw error("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"): return try expectLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try expectLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try expectLiteral("null", .none)
        default:
            return try parseNumber()
        }
    }

    private mutating func parseNumber() throws -> JinjaValue {
        let start = pos
        var isInteger = true
        if pos < bytes.count && bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        guard pos < bytes.count, isDigit(bytes[pos]) else { throw error("invalid value") }
        if bytes[pos] == 0x30 { pos += 1 } else { while pos < bytes.count && isDigit(bytes[pos]) { pos += 1 } }
        if pos < bytes.count && bytes[pos] == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            guard pos < bytes.count, isDigit(bytes[pos]) else { throw error("invalid number") }
            while pos < bytes.count && isDigit(bytes[pos]) { pos += 1 }
        }
        if pos < bytes.count && (bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E")) {
            isInteger = false
            pos += 1
            if pos < bytes.count && (bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-")) { pos += 1 }
            guard pos < bytes.count, isDigit(bytes[pos]) else { throw error("invalid number") }
            while pos < bytes.count && isDigit(bytes[pos]) { pos += 1 }
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        if isInteger, let i = Int(text) { return .int(i) }
        guard let d = Double(text) else { throw error("invalid number") }
        return .double(d)
    }

    private mutating func parseHex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[pos]
            let d: UInt32
            switch b {
            case 0x30...0x39: d = UInt32(b - 0x30)
            case 0x61...0x66: d = UInt32(b - 0x61 + 10)
            case 0x41...0x46: d = UInt32(b - 0x41 + 10)
            default: throw error("invalid \\u escape")
            }
            v = v * 16 + d
            pos += 1
        }
        return v
    }

    private mutating func parseString() throws -> String {
        pos += 1 // opening quote
        var buffer: [UInt8] = []
        while true {
            guard pos < bytes.count else { throw error("unterminated string") }
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") { pos += 1; break }
            if b < 0x20 { throw error("control character in string") }
            if b != UInt8(ascii: "\\") { buffer.append(b); pos += 1; continue }
            pos += 1
            guard pos < bytes.count else { throw error("unterminated string") }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): buffer.append(0x22)
            case UInt8(ascii: "\\"): buffer.append(0x5C)
            case UInt8(ascii: "/"): buffer.append(0x2F)
            case UInt8(ascii: "b"): buffer.append(0x08)
            case UInt8(ascii: "f"): buffer.append(0x0C)
            case UInt8(ascii: "n"): buffer.append(0x0A)
            case UInt8(ascii: "r"): buffer.append(0x0D)
            case UInt8(ascii: "t"): buffer.append(0x09)
            case UInt8(ascii: "u"):
                var code = try parseHex4()
                if code >= 0xD800 && code < 0xDC00,
                   pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") {
                    let save = pos
                    pos += 2
                    let low = try parseHex4()
                    if low >= 0xDC00 && low < 0xE000 {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        pos = save
                    }
                }
                let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                buffer.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                throw error("invalid escape")
            }
        }
        return String(decoding: buffer, as: UTF8.self)
    }
}

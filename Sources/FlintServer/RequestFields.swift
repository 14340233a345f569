import FlintJinja
import Foundation

/// The top-level object of a JSON request body, with typed accessors that turn every
/// wrong type or out-of-range value into a 400 naming the parameter. A missing key and
/// an explicit `null` both mean "not given", as in the OpenAI API.
struct RequestFields {
    let object: JinjaObject

    /// Bodies nest at most this deep (messages with content parts and tool schemas need
    /// far less); deeper input is refused before it is parsed.
    static let maxDepth = 64

    init(object: JinjaObject) { self.object = object }

    init(body: [UInt8]) throws(APIError) {
        guard !body.isEmpty else { throw APIError.invalid("The request body is empty; expected a JSON object") }
        guard Self.nestingDepth(body) <= Self.maxDepth else {
            throw APIError.invalid("The request body nests deeper than \(Self.maxDepth) levels")
        }
        guard String(validating: body, as: UTF8.self) != nil else { throw APIError.invalid("The request body is not valid UTF-8") }
        let value: JinjaValue
        do { value = try JinjaValue.parseJSON(Data(body)) } catch {
            throw APIError.invalid("The request body is not valid JSON: \(error)", code: "invalid_json")
        }
        guard case .object(let o) = value else { throw APIError.invalid("The request body must be a JSON object") }
        object = o
    }

    /// Deepest bracket nesting outside strings (a cheap pre-scan, so a hostile body cannot
    /// drive the recursive parser deep).
    static func nestingDepth(_ bytes: [UInt8]) -> Int {
        var depth = 0, deepest = 0
        var inString = false, escaped = false
        for b in bytes {
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                deepest = max(deepest, depth)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return deepest
    }

    private func value(_ key: String) -> JinjaValue? {
        guard let v = object[key], !v.isNone else { return nil }
        return v
    }

    private func typeError(_ key: String, _ expected: String) -> APIError {
        APIError.invalid("'\(key)' must be \(expected)", param: key)
    }

    func has(_ key: String) -> Bool { value(key) != nil }

    func string(_ key: String) throws(APIError) -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw typeError(key, "a string") }
        return s
    }

    func bool(_ key: String) throws(APIError) -> Bool? {
        guard let v = value(key) else { return nil }
        guard case .bool(let b) = v else { throw typeError(key, "a boolean") }
        return b
    }

    func int(_ key: String, in range: ClosedRange<Int> = Int.min...Int.max) throws(APIError) -> Int? {
        guard let v = value(key) else { return nil }
        let i: Int
        switch v {
        case .int(let x): i = x
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: i = Int(d)
        default: throw typeError(key, "an integer")
        }
        guard range.contains(i) else {
            throw APIError.invalid("'\(key)' must be between \(range.lowerBound) and \(range.upperBound), got \(i)", param: key)
        }
        return i
    }

    /// A finite number (the engine checks the range of sampling parameters).
    func number(_ key: String) throws(APIError) -> Double? {
        guard let v = value(key) else { return nil }
        let d: Double
        switch v {
        case .int(let x): d = Double(x)
        case .double(let x): d = x
        default: throw typeError(key, "a number")
        }
        guard d.isFinite else { throw typeError(key, "a finite number") }
        return d
    }

    func object(_ key: String) throws(APIError) -> JinjaObject? {
        guard let v = value(key) else { return nil }
        guard case .object(let o) = v else { throw typeError(key, "an object") }
        return o
    }

    func array(_ key: String) throws(APIError) -> [JinjaValue]? {
        guard let v = value(key) else { return nil }
        guard case .array(let a) = v else { throw typeError(key, "an array") }
        return a
    }

    /// `stop`: a string or a list of strings.
    func stringOrStrings(_ key: String) throws(APIError) -> [String] {
        guard let v = value(key) else { return [] }
        switch v {
        case .string(let s): return [s]
        case .array(let items):
            var out: [String] = []
            for item in items {
                guard case .string(let s) = item else { throw typeError(key, "a string or a list of strings") }
                out.append(s)
            }
            return out
        default: throw typeError(key, "a string or a list of strings")
        }
    }
}

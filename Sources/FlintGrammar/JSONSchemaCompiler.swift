import FlintJinja
import Foundation

/// A JSON Schema that cannot be compiled.
public struct JSONSchemaError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The schema text is not JSON.
        case invalidJSON
        /// The schema is not a valid (or satisfiable) schema.
        case invalidSchema
        /// A keyword whose constraint the grammar cannot enforce.
        case unsupportedKeyword(String)
        /// A `$ref` that is not `#/$defs/…`, `#/definitions/…` or `#`, or names nothing.
        case unresolvedReference(String)
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "JSON schema error: \(message)" }
}

/// Compiles a JSON Schema into a `Grammar` whose sentences are JSON documents
/// that satisfy the schema (for the supported subset; see the README of the
/// module for what is enforced). Whitespace between tokens is optional and
/// bounded so that a model cannot loop on it.
public enum JSONSchemaCompiler {
    /// Grammar for a schema given as JSON text. `{"type": "json_object"}` means
    /// any JSON object.
    public static func compile(schema text: String) throws -> Grammar {
        try grammar(gbnf(schema: text))
    }

    public static func compile(schema: JinjaValue) throws -> Grammar {
        try grammar(gbnf(schema: schema))
    }

    private static func grammar(_ text: String) throws -> Grammar {
        do {
            return try Grammar(gbnf: text)
        } catch let e as GrammarError {
            // E.g. a pattern like "(a*)*" whose repetition can match empty.
            throw JSONSchemaError(.invalidSchema, "the schema does not give a usable grammar: \(e.message)")
        }
    }

    /// The GBNF text for a schema given as JSON.
    public static func gbnf(schema text: String) throws -> String {
        let value: JinjaValue
        do {
            value = try JinjaValue.parseJSON(text)
        } catch {
            throw JSONSchemaError(.invalidJSON, "the schema is not valid JSON: \(error)")
        }
        return try gbnf(schema: value)
    }

    /// `rootName` names the rule for the whole document, so that other GBNF (e.g. tool-call
    /// tags around the JSON) can embed it under its own `root`.
    public static func gbnf(schema: JinjaValue, rootName: String = "root") throws -> String {
        var b = SchemaBuilder(root: schema)
        let expr = try b.visit(schema, name: "root-value", depth: 0)
        b.addRule(rootName, "\(expr) \(b.use("ws"))")
        return b.render()
    }

    /// Grammar for any JSON object (OpenAI's `response_format: json_object`).
    public static func anyObject() -> Grammar {
        // The fixed grammar always parses.
        try! compile(schema: #"{"type":"json_object"}"#)
    }
}

/// `s` as a GBNF string literal, quotes included.
public func gbnfLiteral(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 || u.value == 0x7F {
                out += String(format: "\\x%02X", u.value)
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}

/// A character for use inside a GBNF character class.
func gbnfClassChar(_ u: Unicode.Scalar) -> String {
    switch u {
    case "]", "[", "\\", "-", "^", "\"": return "\\" + String(u)
    case "\n": return "\\n"
    case "\r": return "\\r"
    case "\t": return "\\t"
    default:
        if u.value < 0x20 || u.value == 0x7F { return String(format: "\\x%02X", u.value) }
        return String(u)
    }
}

/// JSON text of a string value (with quotes), as FlintJinja's `tojson` writes it.
func jsonQuoted(_ s: String) -> String {
    // Serializing a string cannot fail.
    try! JinjaValue.string(s).toJSON()
}

struct SchemaBuilder {
    let root: JinjaValue
    private var rules: [(String, String)] = []
    private var names: Set<String> = []
    private var refRules: [String: String] = [:]
    private var primitives: Set<String> = []

    static let maxDepth = 64
    static let maxBound = 10_000

    init(root: JinjaValue) { self.root = root }

    static let primitiveRules: [String: String] = [
        "ws": #"[ \t]{0,4} | "\n" [ \t]{0,20}"#,
        "char": #"[^"\\\x00-\x1F] | "\\" esc"#,
        "esc": #"["\\/bfnrt] | "u" ([0-9a-cA-Ce-fE-F] hex hex hex | [dD] [0-7] hex hex | [dD] [89abAB] hex hex "\\u" [dD] [c-fC-F] hex hex)"#,
        "hex": "[0-9a-fA-F]",
        "string": #""\"" char* "\"""#,
        "integer": #""-"? ("0" | [1-9] [0-9]{0,15})"#,
        "number": #""-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})?"#,
        "boolean": #""true" | "false""#,
        "null": #""null""#,
        "value": "object | array | string | number | boolean | null",
        "object": #""{" ws (string ws ":" ws value (ws "," ws string ws ":" ws value)* ws)? "}""#,
        "array": #""[" ws (value (ws "," ws value)* ws)? "]""#,
        "date": #"[0-9]{4} "-" ("0" [1-9] | "1" [0-2]) "-" ("0" [1-9] | [12] [0-9] | "3" [01])"#,
        "time": #"([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,6})? ("Z" | [+-] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9])"#,
        "date-time": #"date "T" time"#,
        "uuid": #"hex{8} "-" hex{4} "-" hex{4} "-" hex{4} "-" hex{12}"#,
    ]
    static let primitiveDeps: [String: [String]] = [
        "ws": [], "char": ["esc"], "esc": ["hex"], "hex": [], "string": ["char"], "integer": [], "number": [],
        "boolean": [], "null": [], "value": ["object", "array", "string", "number", "boolean", "null"],
        "object": ["ws", "string", "value"], "array": ["ws", "value"], "date": [], "time": [],
        "date-time": ["date", "time"], "uuid": ["hex"],
    ]

    mutating func use(_ p: String) -> String {
        if primitives.insert(p).inserted {
            for d in SchemaBuilder.primitiveDeps[p] ?? [] { _ = use(d) }
        }
        return p
    }

    func render() -> String {
        var out = ""
        for (n, body) in rules { out += "\(n) ::= \(body)\n" }
        for p in primitives.sorted() where !names.contains(p) {
            out += "\(p) ::= \(SchemaBuilder.primitiveRules[p]!)\n"
        }
        return out
    }

    mutating func uniqueName(_ base: String) -> String {
        var clean = String(base.unicodeScalars.map { u -> Character in
            (u.properties.isAlphabetic && u.isASCII) || (u >= "0" && u <= "9") ? Character(u) : "-"
        })
        if clean.isEmpty { clean = "r" }
        if clean.count > 40 { clean = String(clean.prefix(40)) }
        var name = clean
        var i = 1
        while names.contains(name) || SchemaBuilder.primitiveRules[name] != nil || name == "root" {
            name = "\(clean)-\(i)"
            i += 1
        }
        names.insert(name)
        return name
    }

    mutating func addRule(_ name: String, _ body: String) {
        names.insert(name)
        rules.append((name, body))
    }

    mutating func rule(_ base: String, _ body: String) -> String {
        let n = uniqueName(base)
        addRule(n, body)
        return n
    }

    // MARK: - Keywords

    static let unsupported: Set<String> = [
        "not", "if", "then", "else", "patternProperties", "dependentRequired", "dependentSchemas",
        "dependencies", "propertyNames", "contains", "minContains", "maxContains", "unevaluatedProperties",
        "unevaluatedItems", "multipleOf", "$dynamicRef", "$recursiveRef",
    ]

    func checkKeywords(_ o: JinjaObject) throws {
        for (k, v) in o {
            if SchemaBuilder.unsupported.contains(k) {
                throw JSONSchemaError(.unsupportedKeyword(k), "keyword '\(k)' is not supported")
            }
            if k == "uniqueItems", v.boolValue == true {
                throw JSONSchemaError(.unsupportedKeyword(k), "keyword 'uniqueItems' is not supported")
            }
            if k == "minProperties", (v.doubleValue ?? 0) > 0 {
                throw JSONSchemaError(.unsupportedKeyword(k), "keyword 'minProperties' is not supported")
            }
            if k == "maxProperties" {
                throw JSONSchemaError(.unsupportedKeyword(k), "keyword 'maxProperties' is not supported")
            }
        }
    }

    // MARK: - Schemas

    mutating func visit(_ schema: JinjaValue, name: String, depth: Int) throws -> String {
        if depth > SchemaBuilder.maxDepth {
            throw JSONSchemaError(.invalidSchema, "the schema is nested deeper than \(SchemaBuilder.maxDepth) levels")
        }
        switch schema {
        case .bool(true): return use("value")
        case .bool(false): throw JSONSchemaError(.invalidSchema, "schema 'false' at '\(name)' matches nothing")
        case .object(let o):
            return try visitObject(o, name: name, depth: depth)
        default:
            throw JSONSchemaError(.invalidSchema, "a schema must be an object or a boolean (at '\(name)')")
        }
    }

    mutating func visitObject(_ o: JinjaObject, name: String, depth: Int) throws -> String {
        try checkKeywords(o)
        if let ref = o["$ref"] {
            guard let r = ref.stringValue else { throw JSONSchemaError(.invalidSchema, "'$ref' must be a string") }
            return try reference(r, depth: depth)
        }
        if let c = o["const"] { return try literal(c) }
        if let e = o["enum"] {
            guard let values = e.arrayValue, !values.isEmpty else {
                throw JSONSchemaError(.invalidSchema, "'enum' must be a non-empty array (at '\(name)')")
            }
            return "(" + (try values.map { try literal($0) }.joined(separator: " | ")) + ")"
        }
        for key in ["anyOf", "oneOf"] {
            if let v = o[key] {
                guard let subs = v.arrayValue, !subs.isEmpty else {
                    throw JSONSchemaError(.invalidSchema, "'\(key)' must be a non-empty array (at '\(name)')")
                }
                var alts: [String] = []
                for (i, s) in subs.enumerated() {
                    var merged = s
                    // Sibling keywords (e.g. a shared "type") apply to each branch.
                    if case .object(var so) = s {
                        for (k, sv) in o where k != key && so[k] == nil && k != "$defs" && k != "definitions" { so[k] = sv }
                        merged = .object(so)
                    }
                    alts.append(try visit(merged, name: "\(name)-\(i)", depth: depth + 1))
                }
                return rule(name, alts.joined(separator: " | "))
            }
        }
        if let v = o["allOf"] {
            guard let subs = v.arrayValue, !subs.isEmpty else {
                throw JSONSchemaError(.invalidSchema, "'allOf' must be a non-empty array (at '\(name)')")
            }
            var merged = o
            merged["allOf"] = nil
            for s in subs {
                let resolved = try resolveForMerge(s, depth: depth)
                merge(into: &merged, resolved)
            }
            return try visitObject(merged, name: name, depth: depth + 1)
        }
        if let t = o["type"] {
            if let types = t.arrayValue {
                if types.isEmpty { throw JSONSchemaError(.invalidSchema, "'type' must not be an empty array") }
                var alts: [String] = []
                for ty in types {
                    guard let s = ty.stringValue else { throw JSONSchemaError(.invalidSchema, "'type' entries must be strings") }
                    alts.append(try typed(s, o, name: "\(name)-\(s)", depth: depth))
                }
                return rule(name, alts.joined(separator: " | "))
            }
            guard let s = t.stringValue else { throw JSONSchemaError(.invalidSchema, "'type' must be a string or an array") }
            return try typed(s, o, name: name, depth: depth)
        }
        // No type: infer from the keywords present.
        if o["properties"] != nil || o["additionalProperties"] != nil || o["required"] != nil {
            return try typed("object", o, name: name, depth: depth)
        }
        if o["items"] != nil || o["prefixItems"] != nil || o["minItems"] != nil || o["maxItems"] != nil {
            return try typed("array", o, name: name, depth: depth)
        }
        if o["pattern"] != nil || o["minLength"] != nil || o["maxLength"] != nil || o["format"] != nil {
            return try typed("string", o, name: name, depth: depth)
        }
        return use("value")
    }

    func resolveForMerge(_ s: JinjaValue, depth: Int) throws -> JinjaObject {
        guard case .object(var o) = s else {
            if s.boolValue == true { return JinjaObject() }
            throw JSONSchemaError(.invalidSchema, "'allOf' entries must be schema objects")
        }
        var guardCount = 0
        while let r = o["$ref"]?.stringValue {
            guardCount += 1
            if guardCount > 32 { throw JSONSchemaError(.invalidSchema, "'$ref' chain too long in 'allOf'") }
            guard case .object(let target) = try lookup(r) else {
                throw JSONSchemaError(.invalidSchema, "'$ref' \(r) in 'allOf' is not a schema object")
            }
            o["$ref"] = nil
            for (k, v) in target where o[k] == nil { o[k] = v }
        }
        return o
    }

    func merge(into o: inout JinjaObject, _ s: JinjaObject) {
        for (k, v) in s {
            switch k {
            case "properties":
                var props = o["properties"]?.objectValue ?? JinjaObject()
                for (pk, pv) in v.objectValue ?? JinjaObject() { props[pk] = pv }
                o["properties"] = .object(props)
            case "required":
                var req = o["required"]?.arrayValue ?? []
                for r in v.arrayValue ?? [] where !req.contains(where: { $0 == r }) { req.append(r) }
                o["required"] = .array(req)
            default:
                o[k] = v
            }
        }
    }

    func lookup(_ ref: String) throws -> JinjaValue {
        if ref == "#" { return root }
        for prefix in ["#/$defs/", "#/definitions/"] where ref.hasPrefix(prefix) {
            let key = String(ref.dropFirst(prefix.count))
                .replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            let container = prefix == "#/$defs/" ? "$defs" : "definitions"
            if let target = root[container]?[key] { return target }
            throw JSONSchemaError(.unresolvedReference(ref), "'$ref' \(ref) names no definition")
        }
        throw JSONSchemaError(.unresolvedReference(ref), "'$ref' \(ref) is not supported (only #/$defs/… and #/definitions/…)")
    }

    mutating func reference(_ ref: String, depth: Int) throws -> String {
        if let n = refRules[ref] { return n }
        let target = try lookup(ref)
        let n = uniqueName("ref-" + (ref.split(separator: "/").last.map(String.init) ?? "root"))
        refRules[ref] = n
        let body = try visit(target, name: n + "-body", depth: depth + 1)
        addRule(n, body)
        return n
    }

    mutating func literal(_ v: JinjaValue) throws -> String {
        let text: String
        do {
            text = try v.toJSON(itemSeparator: ",", keySeparator: ":")
        } catch {
            throw JSONSchemaError(.invalidSchema, "'const'/'enum' value cannot be written as JSON")
        }
        return gbnfLiteral(text)
    }

    mutating func typed(_ type: String, _ o: JinjaObject, name: String, depth: Int) throws -> String {
        switch type {
        case "string": return try stringRule(o, name: name)
        case "integer": return try integerRule(o, name: name)
        case "number": return try numberRule(o, name: name)
        case "boolean": return use("boolean")
        case "null": return use("null")
        case "object": return try objectRule(o, name: name, depth: depth)
        case "array": return try arrayRule(o, name: name, depth: depth)
        case "json_object": return use("object")
        default: throw JSONSchemaError(.invalidSchema, "unknown type '\(type)' (at '\(name)')")
        }
    }

    func count(_ o: JinjaObject, _ key: String) throws -> Int? {
        guard let v = o[key] else { return nil }
        guard let d = v.doubleValue, d >= 0, d == d.rounded() else {
            throw JSONSchemaError(.invalidSchema, "'\(key)' must be a non-negative integer")
        }
        return d > 1e9 ? 1_000_000_000 : Int(d)
    }

    /// `{lo,hi}` suffix, with bounds above the grammar limit treated as unbounded.
    func repetition(_ lo: Int, _ hi: Int?, key: String) throws -> String {
        if lo > SchemaBuilder.maxBound {
            throw JSONSchemaError(.unsupportedKeyword(key), "'\(key)' of \(lo) is above the supported \(SchemaBuilder.maxBound)")
        }
        if let hi, hi <= SchemaBuilder.maxBound {
            if hi < lo { throw JSONSchemaError(.invalidSchema, "the maximum is below the minimum ('\(key)')") }
            return "{\(lo),\(hi)}"
        }
        return "{\(lo),}"
    }

    mutating func stringRule(_ o: JinjaObject, name: String) throws -> String {
        if let p = o["pattern"] {
            guard let pattern = p.stringValue else { throw JSONSchemaError(.invalidSchema, "'pattern' must be a string") }
            _ = use("char")
            var rp = RegexTranslator(pattern: Array(pattern.unicodeScalars))
            let body = try rp.translate()
            return rule(name, "\"\\\"\" (\(body)) \"\\\"\"")
        }
        if let f = o["format"]?.stringValue, ["date", "time", "date-time", "uuid"].contains(f) {
            return rule(name, "\"\\\"\" \(use(f)) \"\\\"\"")
        }
        let minL = try count(o, "minLength") ?? 0
        let maxL = try count(o, "maxLength")
        if minL == 0 && maxL == nil { return use("string") }
        _ = use("char")
        return rule(name, "\"\\\"\" char\(try repetition(minL, maxL, key: "minLength")) \"\\\"\"")
    }

    // MARK: Integers

    func bound(_ o: JinjaObject, _ key: String) throws -> Double? {
        guard let v = o[key] else { return nil }
        if case .bool = v { return nil }  // draft-4 boolean exclusive flags
        guard let d = v.doubleValue, d.isFinite else { throw JSONSchemaError(.invalidSchema, "'\(key)' must be a number") }
        return d
    }

    mutating func integerRule(_ o: JinjaObject, name: String) throws -> String {
        let (l, h) = try integralBounds(o, name: name)
        if l == nil && h == nil { return use("integer") }
        var alts: [String] = []
        // Negative values: magnitudes in [max(1, -h), -l].
        if l == nil || l! < 0 {
            let magLo = UInt64(max(1, -(min(h ?? -1, -1))))
            let magHi = l.map { UInt64(-$0) }
            if magHi == nil || magLo <= magHi! {
                alts.append("\"-\" " + SchemaBuilder.naturalRange(magLo, magHi))
            }
        }
        // Non-negative values.
        if h == nil || h! >= 0 {
            let a = UInt64(max(0, l ?? 0))
            let b = h.map { UInt64($0) }
            if b == nil || a <= b! { alts.append(SchemaBuilder.naturalRange(a, b)) }
        }
        return rule(name, alts.joined(separator: " | "))
    }

    /// Integer bounds of a schema (exclusive ones made inclusive); non-integral
    /// bounds are rounded inward, which keeps every generated value valid.
    func integralBounds(_ o: JinjaObject, name: String) throws -> (Int64?, Int64?) {
        let limit = 1e15
        var lo: Double? = try bound(o, "minimum").map { $0.rounded(.up) }
        var hi: Double? = try bound(o, "maximum").map { $0.rounded(.down) }
        if let e = try bound(o, "exclusiveMinimum") { lo = max(lo ?? -.infinity, e.rounded(.down) + 1) }
        if let e = try bound(o, "exclusiveMaximum") { hi = min(hi ?? .infinity, e.rounded(.up) - 1) }
        if o["exclusiveMinimum"]?.boolValue == true, let l = lo { lo = l + 1 }
        if o["exclusiveMaximum"]?.boolValue == true, let h = hi { hi = h - 1 }
        if let l = lo, let h = hi, l > h {
            throw JSONSchemaError(.invalidSchema, "numeric range is empty at '\(name)'")
        }
        // Bounds beyond 15 digits are left unenforced (numbers have at most 16 integer digits).
        return (lo.flatMap { abs($0) >= limit ? nil : Int64($0) }, hi.flatMap { abs($0) >= limit ? nil : Int64($0) })
    }

    /// Numbers within integral bounds: the integer part is bounded, the fraction
    /// must be zero at the far end, and exponents are not allowed.
    mutating func numberRule(_ o: JinjaObject, name: String) throws -> String {
        let (l, h) = try integralBounds(o, name: name)
        if l == nil && h == nil { return use("number") }
        let frac = #"("." [0-9]{1,16})?"#, zero = #"("." "0"{1,16})?"#
        var alts: [String] = []
        // v >= 0: integer part in [max(l, 0), h - 1] with any fraction, or h exactly.
        if h == nil || h! >= 0 {
            let a = UInt64(max(0, l ?? 0))
            if let h {
                if Int64(a) <= h - 1 { alts.append(SchemaBuilder.naturalRange(a, UInt64(h - 1)) + " " + frac) }
                if Int64(a) <= h { alts.append(SchemaBuilder.naturalRange(UInt64(h), UInt64(h)) + " " + zero) }
            } else {
                alts.append(SchemaBuilder.naturalRange(a, nil) + " " + frac)
            }
        }
        // v < 0, written "-" I.f: I >= -h (when h < 0), and I <= -l - 1 with any fraction or I = -l exactly.
        if l == nil || l! < 0 {
            let nLo: Int64 = (h != nil && h! < 0) ? -h! : 0
            if let l {
                if nLo <= -l - 1 { alts.append("\"-\" " + SchemaBuilder.naturalRange(UInt64(nLo), UInt64(-l - 1)) + " " + frac) }
                if nLo <= -l { alts.append("\"-\" " + SchemaBuilder.naturalRange(UInt64(-l), UInt64(-l)) + " " + zero) }
            } else {
                alts.append("\"-\" " + SchemaBuilder.naturalRange(UInt64(nLo), nil) + " " + frac)
            }
        }
        if alts.isEmpty { throw JSONSchemaError(.invalidSchema, "numeric range is empty at '\(name)'") }
        return rule(name, alts.joined(separator: " | "))
    }

    /// Decimal numerals without leading zeros in [a, b] (b nil: up to 16 digits).
    static func naturalRange(_ a: UInt64, _ b: UInt64?) -> String {
        let la = String(a).count
        var alts: [String] = []
        if let b {
            let lb = String(b).count
            for len in la...lb {
                let low: UInt64 = len == la ? a : pow10(len - 1)
                let high: UInt64 = len == lb ? b : pow10(len) - 1
                alts.append(sameLength(Array(String(low).utf8), Array(String(high).utf8)))
            }
        } else {
            alts.append(sameLength(Array(String(a).utf8), Array(String(pow10(la) - 1).utf8)))
            if la < 16 { alts.append("[1-9] [0-9]{\(la),\(15)}") }
        }
        return "(" + alts.joined(separator: " | ") + ")"
    }

    static func pow10(_ n: Int) -> UInt64 { (0..<n).reduce(1) { acc, _ in acc * 10 } }

    /// Numerals of the same length between s and t (digit strings, s <= t).
    static func sameLength(_ s: [UInt8], _ t: [UInt8]) -> String {
        if s.isEmpty { return "\"\"" }
        if s == t { return "\"" + String(decoding: s, as: UTF8.self) + "\"" }
        if s[0] == t[0] {
            return "\"\(Character(Unicode.Scalar(s[0])))\" " + sameLength(Array(s.dropFirst()), Array(t.dropFirst()))
        }
        let rest = s.count - 1
        func digitClass(_ a: UInt8, _ b: UInt8) -> String {
            a == b ? "\"\(Character(Unicode.Scalar(a)))\"" : "[\(Character(Unicode.Scalar(a)))-\(Character(Unicode.Scalar(b)))]"
        }
        func anyDigits(_ n: Int) -> String { n == 0 ? "" : " [0-9]{\(n)}" }
        var parts: [String] = []
        var midLo = s[0], midHi = t[0]
        let sRest = Array(s.dropFirst()), tRest = Array(t.dropFirst())
        if !sRest.allSatisfy({ $0 == UInt8(ascii: "0") }) {
            parts.append(digitClass(s[0], s[0]) + " " + sameLength(sRest, [UInt8](repeating: UInt8(ascii: "9"), count: rest)))
            midLo += 1
        }
        var tail: String?
        if !tRest.allSatisfy({ $0 == UInt8(ascii: "9") }) {
            tail = digitClass(t[0], t[0]) + " " + sameLength([UInt8](repeating: UInt8(ascii: "0"), count: rest), tRest)
            midHi -= 1
        }
        if midLo <= midHi { parts.append(digitClass(midLo, midHi) + anyDigits(rest)) }
        if let tail { parts.append(tail) }
        return "(" + parts.joined(separator: " | ") + ")"
    }

    // MARK: Objects

    mutating func objectRule(_ o: JinjaObject, name: String, depth: Int) throws -> String {
        _ = use("ws")
        let props = o["properties"]?.objectValue ?? JinjaObject()
        if o["properties"] != nil && o["properties"]?.objectValue == nil {
            throw JSONSchemaError(.invalidSchema, "'properties' must be an object (at '\(name)')")
        }
        var required = Set<String>()
        if let r = o["required"] {
            guard let arr = r.arrayValue else { throw JSONSchemaError(.invalidSchema, "'required' must be an array") }
            for v in arr {
                guard let s = v.stringValue else { throw JSONSchemaError(.invalidSchema, "'required' entries must be strings") }
                required.insert(s)
            }
        }
        let additional = o["additionalProperties"] ?? .bool(true)
        // Required keys that have no schema take any value.
        var items: [(kv: String, required: Bool)] = []
        var listed = props.pairs.map { ($0.key, $0.value) }
        let requiredOrder = (o["required"]?.arrayValue ?? []).compactMap { $0.stringValue }
        for r in requiredOrder where props[r] == nil && !listed.contains(where: { $0.0 == r }) {
            if additional.boolValue == false {
                throw JSONSchemaError(.invalidSchema, "required property '\(r)' is not allowed by additionalProperties: false")
            }
            listed.append((r, additional.boolValue == true ? .bool(true) : additional))
        }
        // Extra keys (other than the listed ones).
        var extra: String?
        if additional.boolValue != false {
            let valueExpr: String
            if additional.boolValue == true {
                valueExpr = use("value")
            } else {
                valueExpr = try visit(additional, name: name + "-additional", depth: depth + 1)
            }
            let key = listed.isEmpty ? use("string") : notStrings(listed.map { $0.0 }, name: name + "-extra-key")
            extra = rule(name + "-extra-kv", "\(key) ws \":\" ws \(valueExpr)")
        }
        if listed.isEmpty && extra == nil {
            return rule(name, "\"{\" ws \"}\"")
        }
        // Required first (in order), then optional (in order).
        let ordered = listed.filter { required.contains($0.0) } + listed.filter { !required.contains($0.0) }
        for (k, v) in ordered {
            let valueExpr = try visit(v, name: name + "-" + k, depth: depth + 1)
            let kv = rule(name + "-" + k + "-kv", "\(gbnfLiteral(jsonQuoted(k))) ws \":\" ws \(valueExpr)")
            items.append((kv, required.contains(k)))
        }
        // tail_i: items i… after something was written; head_i: nothing written yet.
        let n = items.count
        var tail = extra.map { rule(name + "-tail", "(ws \",\" ws \($0))*") } ?? "\"\""
        var head = extra.map { rule(name + "-head", "(\($0) \(tail))?") } ?? "\"\""
        var headEmptyOnly = extra == nil
        for i in stride(from: n - 1, through: 0, by: -1) {
            let (kv, req) = items[i]
            let newTail = req ? rule(name + "-tail", "ws \",\" ws \(kv) \(tail)")
                : rule(name + "-tail", "(ws \",\" ws \(kv))? \(tail)")
            let newHead = req ? rule(name + "-head", "\(kv) \(tail)")
                : rule(name + "-head", headEmptyOnly ? "(\(kv) \(tail))?" : "\(kv) \(tail) | \(head)")
            headEmptyOnly = false
            tail = newTail
            head = newHead
        }
        if items.contains(where: { $0.required }) { return rule(name, "\"{\" ws \(head) ws \"}\"") }
        return rule(name, "\"{\" ws (\(head) ws)? \"}\"")
    }

    /// A JSON string that is not one of `keys`.
    mutating func notStrings(_ keys: [String], name: String) -> String {
        _ = use("char")
        // Trie over the keys' JSON-escaped content.
        final class Node { var children: [(Unicode.Scalar, Node)] = []; var isKey = false }
        let root = Node()
        for k in keys {
            let content = String(jsonQuoted(k).dropFirst().dropLast())
            var n = root
            for u in content.unicodeScalars {
                if let c = n.children.first(where: { $0.0 == u }) {
                    n = c.1
                } else {
                    let c = Node()
                    n.children.append((u, c))
                    n = c
                }
            }
            n.isKey = true
        }
        let rest = rule(name + "-rest", "char* \"\\\"\"")
        func build(_ node: Node) -> String {
            var alts: [String] = []
            if !node.isKey { alts.append("\"\\\"\"") }
            for (u, child) in node.children {
                alts.append(gbnfLiteral(String(u)) + " " + build(child))
            }
            let excluded = node.children.map { gbnfClassChar($0.0) }.joined()
            alts.append("[^\"\\\\\\x00-\\x1F\(excluded)] \(rest)")
            if !node.children.contains(where: { $0.0 == "\\" }) {
                // Simple escapes only: a \u escape could spell a listed key.
                alts.append("\"\\\\\" [\"\\\\bfnrt] \(rest)")
            }
            return "(" + alts.joined(separator: " | ") + ")"
        }
        _ = use("hex")
        return rule(name, "\"\\\"\" " + build(root))
    }

    // MARK: Arrays

    mutating func arrayRule(_ o: JinjaObject, name: String, depth: Int) throws -> String {
        _ = use("ws")
        let minItems = try count(o, "minItems") ?? 0
        let maxItems = try count(o, "maxItems")
        if let maxItems, maxItems < minItems { throw JSONSchemaError(.invalidSchema, "maxItems is below minItems (at '\(name)')") }
        var prefix: [String] = []
        if let p = o["prefixItems"] {
            guard let arr = p.arrayValue else { throw JSONSchemaError(.invalidSchema, "'prefixItems' must be an array") }
            for (i, s) in arr.enumerated() { prefix.append(try visit(s, name: "\(name)-\(i)", depth: depth + 1)) }
        }
        var item: String? = use("value")
        if let it = o["items"] {
            if it.boolValue == false {
                item = nil
            } else if it.arrayValue != nil {
                throw JSONSchemaError(.unsupportedKeyword("items"), "'items' as an array (draft 4 tuples) is not supported; use 'prefixItems'")
            } else {
                item = try visit(it, name: name + "-item", depth: depth + 1)
            }
        }
        if !prefix.isEmpty {
            var body = prefix.joined(separator: " ws \",\" ws ")
            if let item {
                let extraMax = maxItems.map { max(0, $0 - prefix.count) }
                let extraMin = max(0, minItems - prefix.count)
                if extraMax != 0 {
                    body += " (ws \",\" ws \(item))\(try repetition(extraMin, extraMax, key: "minItems"))"
                }
            }
            return rule(name, "\"[\" ws \(body) ws \"]\"")
        }
        guard let item, maxItems != 0 else { return rule(name, "\"[\" ws \"]\"") }
        if minItems == 0 {
            let more = try repetition(0, maxItems.map { $0 - 1 }, key: "maxItems")
            return rule(name, "\"[\" ws (\(item) (ws \",\" ws \(item))\(more) ws)? \"]\"")
        }
        let more = try repetition(minItems - 1, maxItems.map { $0 - 1 }, key: "minItems")
        return rule(name, "\"[\" ws \(item) (ws \",\" ws \(item))\(more) ws \"]\"")
    }
}

/// Translates a JSON Schema `pattern` (a regex subset: literals, escapes,
/// classes, `.`, groups, alternation, quantifiers; `^`/`$` at the ends) into a
/// GBNF expression over the JSON-escaped string content. The whole string
/// content must match.
struct RegexTranslator {
    let pattern: [Unicode.Scalar]
    var pos = 0
    var depth = 0

    init(pattern: [Unicode.Scalar]) { self.pattern = pattern }

    func error(_ message: String) -> JSONSchemaError {
        JSONSchemaError(.unsupportedKeyword("pattern"), "pattern: \(message) at offset \(pos)")
    }

    var current: Unicode.Scalar? { pos < pattern.count ? pattern[pos] : nil }

    mutating func translate() throws -> String {
        if current == "^" { pos += 1 }
        let r = try alternation()
        if pos < pattern.count {
            throw current == ")" ? error("unbalanced ')'") : error("unexpected '\(Character(current!))'")
        }
        return r
    }

    mutating func alternation() throws -> String {
        var alts = [try concatenation()]
        while current == "|" {
            pos += 1
            alts.append(try concatenation())
        }
        return alts.count == 1 ? alts[0] : "(" + alts.joined(separator: " | ") + ")"
    }

    mutating func concatenation() throws -> String {
        var items: [String] = []
        while let c = current, c != "|", c != ")" {
            if c == "$" && (pos + 1 == pattern.count || pattern[pos + 1] == ")" || pattern[pos + 1] == "|") {
                pos += 1
                continue
            }
            var atom = try self.atom()
            while let q = current, "*+?{".unicodeScalars.contains(q) {
                if q == "{" {
                    // A brace that is not a valid quantifier is a literal.
                    guard let (m, n, len) = quantifier(at: pos) else { break }
                    pos += len
                    if m > SchemaBuilder.maxBound || (n ?? 0) > SchemaBuilder.maxBound { throw error("repetition too large") }
                    if let n, n < m { throw error("repetition {\(m),\(n)} is out of order") }
                    atom = "(\(atom))" + (n == nil ? "{\(m),}" : "{\(m),\(n!)}")
                } else {
                    pos += 1
                    atom = "(\(atom))" + String(q)
                }
                if current == "?" { pos += 1 }  // lazy: same language
                if current == "+" { throw error("possessive quantifiers are not supported") }
            }
            items.append(atom)
        }
        return items.isEmpty ? "\"\"" : items.joined(separator: " ")
    }

    func quantifier(at p: Int) -> (Int, Int?, Int)? {
        var i = p + 1
        func number() -> Int? {
            let s = i
            var v = 0
            while i < pattern.count, pattern[i] >= "0" && pattern[i] <= "9" {
                v = min(v * 10 + Int(pattern[i].value - 48), 1_000_000)
                i += 1
            }
            return i > s ? v : nil
        }
        guard let m = number() else { return nil }
        var n: Int? = m
        if i < pattern.count, pattern[i] == "," {
            i += 1
            n = number()
        }
        guard i < pattern.count, pattern[i] == "}" else { return nil }
        return (m, n, i + 1 - p)
    }

    /// A literal code point as GBNF over JSON string content.
    static func literal(_ u: Unicode.Scalar) -> String {
        gbnfLiteral(String(jsonQuoted(String(u)).dropFirst().dropLast()))
    }

    mutating func atom() throws -> String {
        guard let c = current else { throw error("unexpected end") }
        switch c {
        case "(":
            pos += 1
            depth += 1
            if depth > 100 { throw error("groups nested too deeply") }
            if current == "?" {
                if pos + 1 < pattern.count, pattern[pos + 1] == ":" { pos += 2 } else { throw error("lookaround and named groups are not supported") }
            }
            let inner = try alternation()
            guard current == ")" else { throw error("missing ')'") }
            pos += 1
            depth -= 1
            return "(\(inner))"
        case "[":
            return try charClass()
        case ".":
            pos += 1
            return "char"
        case "\\":
            pos += 1
            guard let e = current else { throw error("trailing backslash") }
            pos += 1
            if let cls = RegexTranslator.shorthand(e) { return cls }
            if let ctl = RegexTranslator.controlEscape(e) { return RegexTranslator.literal(ctl) }
            if e >= "1" && e <= "9" { throw error("backreferences are not supported") }
            if e == "b" || e == "B" { throw error("word boundaries are not supported") }
            return RegexTranslator.literal(e)
        case "*", "+", "?":
            throw error("nothing to repeat")
        default:
            pos += 1
            return RegexTranslator.literal(c)
        }
    }

    static func controlEscape(_ e: Unicode.Scalar) -> Unicode.Scalar? {
        switch e {
        case "n": return "\n"
        case "t": return "\t"
        case "r": return "\r"
        case "f": return "\u{0C}"
        case "v": return "\u{0B}"
        default: return nil
        }
    }

    static func shorthand(_ e: Unicode.Scalar) -> String? {
        switch e {
        case "d": return "[0-9]"
        case "D": return #"[^0-9"\\\x00-\x1F]"#
        case "w": return "[a-zA-Z0-9_]"
        case "W": return #"[^a-zA-Z0-9_"\\\x00-\x1F]"#
        case "s": return #"(" " | "\\t" | "\\n" | "\\r")"#
        case "S": return #"[^ "\\\x00-\x1F]"#
        default: return nil
        }
    }

    mutating func charClass() throws -> String {
        pos += 1
        var negated = false
        if current == "^" { negated = true; pos += 1 }
        var items = ""
        var extraAlts: [String] = []
        var first = true
        while true {
            guard let c = current else { throw error("unterminated character class") }
            if c == "]" && !first { pos += 1; break }
            first = false
            var lo = c
            pos += 1
            if c == "\\" {
                guard let e = current else { throw error("unterminated character class") }
                pos += 1
                switch e {
                case "d": items += "0-9"; continue
                case "w": items += "a-zA-Z0-9_"; continue
                case "s":
                    if negated { items += " \\t\\n\\r" } else { extraAlts.append(RegexTranslator.shorthand("s")!) }
                    continue
                case "D", "W", "S": throw error("negated shorthand inside a class is not supported")
                default: lo = RegexTranslator.controlEscape(e) ?? e
                }
            }
            var hi = lo
            if current == "-", pos + 1 < pattern.count, pattern[pos + 1] != "]" {
                pos += 1
                var h = pattern[pos]
                pos += 1
                if h == "\\" {
                    guard let e = current else { throw error("unterminated character class") }
                    pos += 1
                    h = RegexTranslator.controlEscape(e) ?? e
                }
                hi = h
                if hi < lo { throw error("class range out of order") }
            }
            // Characters that JSON must escape cannot appear raw in the string.
            if !negated && (lo.value < 0x20 || lo == "\"" || lo == "\\") && lo == hi {
                extraAlts.append(RegexTranslator.literal(lo))
                continue
            }
            items += gbnfClassChar(lo)
            if hi != lo { items += "-" + gbnfClassChar(hi) }
        }
        if negated {
            return "[^" + items + #""\\\x00-\x1F]"#
        }
        var alts = extraAlts
        if !items.isEmpty { alts.insert("[" + items + "]", at: 0) }
        if alts.isEmpty { throw error("empty character class") }
        return alts.count == 1 ? alts[0] : "(" + alts.joined(separator: " | ") + ")"
    }
}

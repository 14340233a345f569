import Foundation

/// Jinja2 built-in filters (plus Hugging Face's `tojson`).
extension Interpreter {
    static let filterNames: Set<String> = [
        "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape",
        "first", "float", "forceescape", "format", "indent", "int", "items", "join", "last", "length", "list",
        "lower", "map", "max", "min", "pprint", "reject", "rejectattr", "replace", "reverse", "round", "safe",
        "select", "selectattr", "slice", "sort", "string", "striptags", "sum", "title", "tojson", "trim",
        "truncate", "unique", "upper", "wordcount",
    ]

    func applyFilter(_ name: String, _ value: JinjaValue, _ positional: [JinjaValue], _ keywords: [(String, JinjaValue)]) throws -> JinjaValue {
        let args = Arguments(name, positional, keywords)
        switch name {
        case "abs":
            switch value {
            case .int(let i):
                guard i != Int.min else { throw JinjaError.runtime(message: "integer overflow in abs") }
                return .int(abs(i))
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return .double(abs(d))
            default: throw JinjaError.type(operation: "abs", message: "bad operand type for abs(): '\(value.typeName)'")
            }
        case "attr":
            // Jinja's `attr` uses Python getattr only: dict keys are not attributes.
            _ = try args.requireString(0, "name")
            return .undefined
        case "batch":
            let size = try args.int(0, "linecount", default: 1)
            guard size > 0 else { throw JinjaError.runtime(message: "batch size must be positive") }
            let fill = args.get(1, "fill_with")
            let items = try iterate(value, operation: "batch")
            var result: [JinjaValue] = []
            var i = 0
            while i < items.count {
                var chunk = Array(items[i..<min(i + size, items.count)])
                if let fill, chunk.count < size { chunk += Array(repeating: fill, count: size - chunk.count) }
                result.append(.array(chunk))
                i += size
            }
            return .array(result)
        case "capitalize":
            return .string(StringMethods.capitalize(value.pythonString))
        case "center":
            let width = try args.int(0, "width", default: 80)
            let s = value.pythonString
            let len = s.unicodeScalars.count
            guard width > len else { return .string(s) }
            let total = width - len
            let left = total / 2 + (total & width & 1)
            return .string(String(repeating: " ", count: left) + s + String(repeating: " ", count: total - left))
        case "count", "length":
            return .int(try length(of: value))
        case "d", "default":
            let def = args.get(0, "default_value") ?? .string("")
            let boolean = args.bool(1, "boolean", default: false)
            if case .undefined = value { return def }
            if boolean && !value.isTruthy { return def }
            return value
        case "dictsort":
            guard case .object(let o) = value else {
                throw JinjaError.type(operation: "dictsort", message: "can only sort a mapping, got '\(value.typeName)'")
            }
            let caseSensitive = args.bool(0, "case_sensitive", default: false)
            let byValue = try args.string(1, "by") == "value"
            let reverse = args.bool(2, "reverse", default: false)
            var pairs = o.pairs.map { JinjaValue.array([.string($0.key), $0.value]) }
            try stableSort(&pairs, reverse: reverse) { item in
                var key = item.arrayValue?[byValue ? 1 : 0] ?? .undefined
                if !caseSensitive, case .string(let s) = key { key = .string(s.lowercased()) }
                return key
            }
            return .array(pairs)
        case "e", "escape", "forceescape":
            return .string(StringMethods.htmlEscape(value.pythonString))
        case "first":
            switch value {
            case .string(let s): return s.unicodeScalars.first.map { .string(String($0)) } ?? .undefined
            default: return try iterate(value, operation: "first").first ?? .undefined
            }
        case "last":
            switch value {
            case .string(let s): return s.unicodeScalars.last.map { .string(String($0)) } ?? .undefined
            default: return try iterate(value, operation: "last").last ?? .undefined
            }
        case "float":
            let def = args.get(0, "default") ?? .double(0)
            switch value {
            case .double: return value
            case .int(let i): return .double(Double(i))
            case .bool(let b): return .double(b ? 1 : 0)
            case .string(let s):
                if let d = StringMethods.parseFloat(s) { return .double(d) }
                return def
            default: return def
            }
        case "int":
            let def = args.get(0, "default") ?? .int(0)
            let base = try args.int(1, "base", default: 10)
            guard (2...36).contains(base) else { return def }
            switch value {
            case .int: return value
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d):
                guard d.isFinite, abs(d) < 9.2e18 else { return def }
                return .int(Int(d))
            case .string(let s):
                let t = s.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")
                if let i = Int(t, radix: base) { return .int(i) }
                if base == 10, let d = StringMethods.parseFloat(t), d.isFinite, abs(d) < 9.2e18 { return .int(Int(d)) }
                return def
            default: return def
            }
        case "format":
            return .string(try StringMethods.percentFormat(value.pythonString, positional))
        case "indent":
            return .string(try indent(value.pythonString, args))
        case "items":
            switch value {
            case .object(let o): return .array(o.pairs.map { .array([.string($0.key), $0.value]) })
            case .undefined: return .array([])
            default: throw JinjaError.type(operation: "items", message: "can only get item pairs from a mapping, got '\(value.typeName)'")
            }
        case "join":
            let sep = try args.string(0, "d") ?? ""
            var items = try iterate(value, operation: "join")
            if let attribute = try args.string(1, "attribute") {
                items = try items.map { try getPath($0, attribute) }
            }
            let result = items.map(\.pythonString).joined(separator: sep)
            try checkSize(result)
            return .string(result)
        case "list":
            return .array(try iterate(value, operation: "list"))
        case "lower":
            return .string(value.pythonString.lowercased())
        case "upper":
            return .string(value.pythonString.uppercased())
        case "title":
            return .string(StringMethods.jinjaTitle(value.pythonString))
        case "map":
            return .array(try map(value, positional, keywords))
        case "max", "min":
            let items = try iterate(value, operation: name)
            let caseSensitive = args.bool(0, "case_sensitive", default: false)
            let attribute = try args.string(1, "attribute")
            guard var best = items.first else { return .undefined }
            func key(_ v: JinjaValue) throws -> JinjaValue {
                var k = v
                if let attribute { k = try getPath(v, attribute) }
                if !caseSensitive, case .string(let s) = k { k = .string(s.lowercased()) }
                return k
            }
            var bestKey = try key(best)
            for item in items.dropFirst() {
                let k = try key(item)
                let c = try Operators.compare(k, bestKey, name == "max" ? ">" : "<")
                if (name == "max" && c > 0) || (name == "min" && c < 0) {
                    best = item
                    bestKey = k
                }
            }
            return best
        case "pprint":
            return .string(value.pythonRepr)
        case "reject", "select":
            return .array(try select(value, positional, keywords, keep: name == "select", byAttribute: false))
        case "rejectattr", "selectattr":
            return .array(try select(value, positional, keywords, keep: name == "selectattr", byAttribute: true))
        case "replace":
            let old = try args.requireString(0, "old")
            let new = try args.requireString(1, "new")
            let count = try args.int(2, "count", default: -1)
            let result = StringMethods.replace(value.pythonString, old, new, count: count)
            try checkSize(result)
            return .string(result)
        case "reverse":
            switch value {
            case .string(let s): return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed())))
            default: return .array(try iterate(value, operation: "reverse").reversed())
            }
        case "round":
            let precision = try args.int(0, "precision", default: 0)
            let method = try args.string(1, "method") ?? "common"
            let x: Double
            switch value {
            case .int(let i):
                if method == "common" { return value }
                x = Double(i)
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): x = d
            default: throw JinjaError.type(operation: "round", message: "cannot round '\(value.typeName)'")
            }
            if method == "common" && precision > 0 && precision <= 20 && x.isFinite {
                // Correctly rounded like Python's round(): format the exact binary value.
                return .double(Double(String(format: "%.\(precision)f", x)) ?? x)
            }
            let scale = pow(10.0, Double(precision))
            let rule: FloatingPointRoundingRule
            switch method {
            case "common": rule = .toNearestOrEven
            case "ceil": rule = .up
            case "floor": rule = .down
            default: throw JinjaError.runtime(message: "method must be 'common', 'ceil' or 'floor'")
            }
            return .double((x * scale).rounded(rule) / scale)
        case "safe":
            return value
        case "slice":
            let slices = try args.int(0, "slices", default: 1)
            guard slices > 0 else { throw JinjaError.runtime(message: "slice count must be positive") }
            let fill = args.get(1, "fill_with")
            let items = try iterate(value, operation: "slice")
            let perSlice = items.count / slices
            let withExtra = items.count % slices
            var offset = 0
            var result: [JinjaValue] = []
            for i in 0..<slices {
                let start = offset + i * perSlice
                if i < withExtra { offset += 1 }
                let end = offset + (i + 1) * perSlice
                var chunk = Array(items[min(start, items.count)..<min(end, items.count)])
                if let fill, i >= withExtra { chunk.append(fill) }
                result.append(.array(chunk))
            }
            return .array(result)
        case "sort":
            var items = try iterate(value, operation: "sort")
            let reverse = args.bool(0, "reverse", default: false)
            let caseSensitive = args.bool(1, "case_sensitive", default: false)
            let attribute = try args.string(2, "attribute")
            try stableSort(&items, reverse: reverse) { item in
                var k = item
                if let attribute { k = try self.getPath(item, attribute) }
                if !caseSensitive, case .string(let s) = k { k = .string(s.lowercased()) }
                return k
            }
            return .array(items)
        case "string":
            return .string(value.pythonString)
        case "striptags":
            return .string(StringMethods.stripTags(value.pythonString))
        case "sum":
            let attribute = try args.string(0, "attribute")
            var total = args.get(1, "start") ?? .int(0)
            for item in try iterate(value, operation: "sum") {
                let v = try attribute.map { try getPath(item, $0) } ?? item
                total = try binaryOperation(.add, total, v)
            }
            return total
        case "tojson":
            return .string(try toJSON(value, args))
        case "trim":
            return .string(StringMethods.strip(value.pythonString, chars: try args.string(0, "chars"), left: true, right: true))
        case "truncate":
            let s = value.pythonString
            let length = try args.int(0, "length", default: 255)
            let killwords = args.bool(1, "killwords", default: false)
            let end = try args.string(2, "end") ?? "..."
            let leeway = try args.int(3, "leeway", default: 5)
            let scalars = Array(s.unicodeScalars)
            if scalars.count <= length + leeway { return .string(s) }
            let cut = max(0, length - end.unicodeScalars.count)
            var kept = String(String.UnicodeScalarView(scalars[0..<min(cut, scalars.count)]))
            if !killwords, let space = kept.lastIndex(of: " ") { kept = String(kept[..<space]) }
            return .string(kept + end)
        case "unique":
            let caseSensitive = args.bool(0, "case_sensitive", default: false)
            let attribute = try args.string(1, "attribute")
            var seen: [JinjaValue] = []
            var result: [JinjaValue] = []
            for item in try iterate(value, operation: "unique") {
                var k = try attribute.map { try getPath(item, $0) } ?? item
                if !caseSensitive, case .string(let s) = k { k = .string(s.lowercased()) }
                if !seen.contains(where: { Operators.equals($0, k) }) {
                    seen.append(k)
                    result.append(item)
                }
            }
            return .array(result)
        case "wordcount":
            return .int(StringMethods.splitWhitespace(value.pythonString, maxSplit: -1).count)
        default:
            throw JinjaError.unknownFilter(name: name)
        }
    }

    func length(of value: JinjaValue) throws -> Int {
        switch value {
        case .string(let s): return s.unicodeScalars.count
        case .array(let a): return a.count
        case .object(let o): return o.count
        case .undefined: return 0
        default: throw JinjaError.type(operation: "length", message: "object of type '\(value.typeName)' has no len()")
        }
    }

    /// Jinja's attribute getter for `map(attribute=)`, `sort(attribute=)`, ...:
    /// dotted paths, integer parts index lists.
    func getPath(_ value: JinjaValue, _ path: String) throws -> JinjaValue {
        var current = value
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            if let i = Int(part) {
                current = try getItem(current, .int(i))
            } else {
                current = getAttribute(current, String(part))
            }
        }
        return current
    }

    private func stableSort(_ items: inout [JinjaValue], reverse: Bool, key: (JinjaValue) throws -> JinjaValue) throws {
        var keyed: [(offset: Int, key: JinjaValue, value: JinjaValue)] = []
        for (i, item) in items.enumerated() { keyed.append((i, try key(item), item)) }
        var failure: Error? = nil
        keyed.sort { a, b in
            if failure != nil { return false }
            do {
                let c = try Operators.compare(a.key, b.key, "<")
                if c != 0 { return reverse ? c > 0 : c < 0 }
            } catch {
                failure = error
            }
            return a.offset < b.offset
        }
        if let failure { throw failure }
        items = keyed.map(\.value)
    }

    private func indent(_ s: String, _ args: Arguments) throws -> String {
        let indentation: String
        if case .string(let w)? = args.get(0, "width") {
            indentation = w
        } else {
            indentation = String(repeating: " ", count: max(0, try args.int(0, "width", default: 4)))
        }
        let first = args.bool(1, "first", default: false)
        let blank = args.bool(2, "blank", default: false)
        let lines = StringMethods.splitLines(s + "\n")
        var rv: String
        if blank {
            rv = lines.joined(separator: "\n" + indentation)
        } else {
            rv = lines.first ?? ""
            let rest = lines.dropFirst()
            if !rest.isEmpty {
                rv += "\n" + rest.map { $0.isEmpty ? $0 : indentation + $0 }.joined(separator: "\n")
            }
        }
        if first { rv = indentation + rv }
        try checkSize(rv)
        return rv
    }

    private func toJSON(_ value: JinjaValue, _ args: Arguments) throws -> String {
        let ensureASCII = args.bool(99, "ensure_ascii", default: false)
        var indentString: String? = nil
        switch args.get(0, "indent") {
        case .int(let n)?: indentString = String(repeating: " ", count: max(0, n))
        case .string(let s)?: indentString = s
        default: break
        }
        var itemSep: String? = nil
        var keySep = ": "
        if case .array(let seps)? = args.get(99, "separators"), seps.count == 2,
           case .string(let a) = seps[0], case .string(let b) = seps[1] {
            itemSep = a
            keySep = b
        }
        let sortKeys = args.bool(99, "sort_keys", default: false)
        let result = try value.toJSON(ensureASCII: ensureASCII, indent: indentString, itemSeparator: itemSep,
                                      keySeparator: keySep, sortKeys: sortKeys)
        try checkSize(result)
        return result
    }

    private func map(_ value: JinjaValue, _ positional: [JinjaValue], _ keywords: [(String, JinjaValue)]) throws -> [JinjaValue] {
        let items = try iterate(value, operation: "map")
        if positional.isEmpty, let attribute = keywords.first(where: { $0.0 == "attribute" })?.1.stringValue {
            let def = keywords.first(where: { $0.0 == "default" })?.1
            return try items.map { item in
                let v = try getPath(item, attribute)
                if case .undefined = v, let def { return def }
                return v
            }
        }
        guard case .string(let filter)? = positional.first else {
            throw JinjaError.runtime(message: "map requires a filter name or attribute=")
        }
        let rest = Array(positional.dropFirst())
        return try items.map { try applyFilter(filter, $0, rest, keywords) }
    }

    private func select(_ value: JinjaValue, _ positional: [JinjaValue], _ keywords: [(String, JinjaValue)],
                        keep: Bool, byAttribute: Bool) throws -> [JinjaValue] {
        let items = try iterate(value, operation: keep ? "select" : "reject")
        var args = positional
        var attribute: String? = nil
        if byAttribute {
            guard case .string(let a)? = args.first else {
                throw JinjaError.runtime(message: "\(keep ? "selectattr" : "rejectattr") requires an attribute name")
            }
            attribute = a
            args.removeFirst()
        }
        var testName: String? = nil
        if !args.isEmpty {
            guard case .string(let t) = args[0] else {
                throw JinjaError.runtime(message: "test name must be a string")
            }
            testName = t
            args.removeFirst()
        }
        var result: [JinjaValue] = []
        for item in items {
            let subject = try attribute.map { try getPath(item, $0) } ?? item
            let passed: Bool
            if let testName {
                passed = try applyTest(testName, subject, args, [])
            } else {
                passed = subject.isTruthy
            }
            if passed == keep { result.append(item) }
        }
        return result
    }
}

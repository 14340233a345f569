import Foundation

/// Python `str` / `dict` / `list` methods callable from templates
/// (`s.strip()`, `d.items()`, ...), plus string helpers used by filters.
extension Interpreter {
    /// Calls `base.name(args)` if `name` is a method of `base`'s type;
    /// returns nil when there is no such method.
    func callMethod(_ base: JinjaValue, _ name: String, _ positional: [JinjaValue], _ keywords: [(String, JinjaValue)]) throws -> JinjaValue? {
        let args = Arguments(name, positional, keywords)
        switch base {
        case .string(let s): return try stringMethod(s, name, args)
        case .object(let o): return try objectMethod(o, name, args)
        case .array(let a):
            switch name {
            case "index":
                let x = try args.require(0, "value")
                guard let i = a.firstIndex(where: { Operators.equals($0, x) }) else {
                    throw JinjaError.runtime(message: "\(x.pythonRepr) is not in list")
                }
                return .int(i)
            case "count":
                let x = try args.require(0, "value")
                return .int(a.filter { Operators.equals($0, x) }.count)
            case "copy":
                return base
            case "append", "extend", "pop", "insert", "remove", "clear", "sort", "reverse":
                throw JinjaError.runtime(message: "access to list method '\(name)' is unsafe in the immutable sandbox")
            default: return nil
            }
        default:
            return nil
        }
    }

    private func objectMethod(_ o: JinjaObject, _ name: String, _ args: Arguments) throws -> JinjaValue? {
        switch name {
        case "items": return .array(o.pairs.map { .array([.string($0.key), $0.value]) })
        case "keys": return .array(o.keys.map { .string($0) })
        case "values": return .array(o.values)
        case "get":
            let key = try args.require(0, "key")
            let def = args.get(1, "default") ?? .none
            guard case .string(let k) = key else { return def }
            return o[k] ?? def
        case "copy": return .object(o)
        case "update", "pop", "popitem", "setdefault", "clear":
            throw JinjaError.runtime(message: "access to dict method '\(name)' is unsafe in the immutable sandbox")
        default: return nil
        }
    }

    private func stringMethod(_ s: String, _ name: String, _ args: Arguments) throws -> JinjaValue? {
        switch name {
        case "strip": return .string(StringMethods.strip(s, chars: try args.string(0, "chars"), left: true, right: true))
        case "lstrip": return .string(StringMethods.strip(s, chars: try args.string(0, "chars"), left: true, right: false))
        case "rstrip": return .string(StringMethods.strip(s, chars: try args.string(0, "chars"), left: false, right: true))
        case "upper": return .string(s.uppercased())
        case "lower": return .string(s.lowercased())
        case "title": return .string(StringMethods.pythonTitle(s))
        case "capitalize": return .string(StringMethods.capitalize(s))
        case "swapcase":
            return .string(String(s.map { c -> String in
                let str = String(c)
                return str.uppercased() == str ? str.lowercased() : str.uppercased()
            }.joined()))
        case "startswith", "endswith":
            let target = try args.require(0, name == "startswith" ? "prefix" : "suffix")
            let candidates: [String]
            switch target {
            case .string(let p): candidates = [p]
            case .array(let a): candidates = a.compactMap(\.stringValue)
            default: throw JinjaError.type(operation: name, message: "\(name) first arg must be str or a tuple of str, not \(target.typeName)")
            }
            let scalars = Array(s.unicodeScalars)
            let start = try args.int(1, "start", default: 0)
            let end = try args.int(2, "end", default: scalars.count)
            let idx = Interpreter.sliceIndices(count: scalars.count, start: start, stop: end, step: 1)
            let sub = idx.map { scalars[$0] }
            for c in candidates {
                let p = Array(c.unicodeScalars)
                if name == "startswith" ? sub.starts(with: p) : sub.reversed().starts(with: p.reversed()) {
                    return .bool(true)
                }
            }
            return .bool(false)
        case "split", "rsplit":
            let sep = try args.string(0, "sep")
            let maxSplit = try args.int(1, "maxsplit", default: -1)
            var parts: [String]
            if let sep {
                guard !sep.isEmpty else { throw JinjaError.runtime(message: "empty separator") }
                parts = name == "split" ? StringMethods.split(s, sep, maxSplit: maxSplit)
                                        : StringMethods.rsplit(s, sep, maxSplit: maxSplit)
            } else {
                parts = name == "split" || maxSplit < 0 ? StringMethods.splitWhitespace(s, maxSplit: maxSplit)
                    : StringMethods.splitWhitespace(String(String.UnicodeScalarView(s.unicodeScalars.reversed())), maxSplit: maxSplit)
                        .map { String(String.UnicodeScalarView($0.unicodeScalars.reversed())) }.reversed()
            }
            try checkCount(parts.count)
            return .array(parts.map { .string($0) })
        case "splitlines":
            return .array(StringMethods.splitLines(s).map { .string($0) })
        case "replace":
            let result = StringMethods.replace(s, try args.requireString(0, "old"), try args.requireString(1, "new"),
                                               count: try args.int(2, "count", default: -1))
            try checkSize(result)
            return .string(result)
        case "find", "rfind", "index", "rindex":
            let sub = try args.requireString(0, "sub")
            let r = name.hasPrefix("r") ? StringMethods.rfind(s, sub) : StringMethods.find(s, sub)
            if r == nil && (name == "index" || name == "rindex") { throw JinjaError.runtime(message: "substring not found") }
            return .int(r ?? -1)
        case "count":
            return .int(StringMethods.count(s, try args.requireString(0, "sub")))
        case "join":
            let items = try iterate(try args.require(0, "iterable"), operation: "join")
            var parts: [String] = []
            for item in items {
                guard case .string(let p) = item else {
                    throw JinjaError.type(operation: "join", message: "sequence item: expected str instance, \(item.typeName) found")
                }
                parts.append(p)
            }
            let result = parts.joined(separator: s)
            try checkSize(result)
            return .string(result)
        case "format":
            return .string(try StringMethods.braceFormat(s, args.positional, args.keywords))
        case "removeprefix":
            let p = try args.requireString(0, "prefix")
            return .string(s.unicodeScalars.starts(with: p.unicodeScalars) ? String(String.UnicodeScalarView(s.unicodeScalars.dropFirst(p.unicodeScalars.count))) : s)
        case "removesuffix":
            let p = try args.requireString(0, "suffix")
            return .string(s.unicodeScalars.reversed().starts(with: p.unicodeScalars.reversed()) ? String(String.UnicodeScalarView(s.unicodeScalars.dropLast(p.unicodeScalars.count))) : s)
        case "isdigit", "isnumeric", "isdecimal":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType != nil })
        case "isalpha":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic })
        case "isalnum":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
        case "isspace":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(StringMethods.isSpace))
        case "islower":
            return .bool(s.lowercased() == s && s.uppercased() != s)
        case "isupper":
            return .bool(s.uppercased() == s && s.lowercased() != s)
        case "zfill":
            let width = try args.int(0, "width", default: 0)
            let n = s.unicodeScalars.count
            guard width > n else { return .string(s) }
            let pad = String(repeating: "0", count: width - n)
            if let f = s.first, f == "-" || f == "+" { return .string(String(f) + pad + s.dropFirst()) }
            return .string(pad + s)
        case "ljust", "rjust", "center":
            let width = try args.int(0, "width", default: 0)
            let fill = try args.string(1, "fillchar") ?? " "
            let n = s.unicodeScalars.count
            guard width > n else { return .string(s) }
            let total = width - n
            switch name {
            case "ljust": return .string(s + String(repeating: fill, count: total))
            case "rjust": return .string(String(repeating: fill, count: total) + s)
            default:
                let left = total / 2 + (total & width & 1)
                return .string(String(repeating: fill, count: left) + s + String(repeating: fill, count: total - left))
            }
        default:
            return nil
        }
    }
}

/// String algorithms with Python semantics (indices count Unicode scalars).
enum StringMethods {
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0: return true
        default: return c.value > 127 && c.properties.isWhitespace
        }
    }

    static func strip(_ s: String, chars: String?, left: Bool, right: Bool) -> String {
        let set = chars.map { Set($0.unicodeScalars) }
        func shouldStrip(_ c: Unicode.Scalar) -> Bool { set.map { $0.contains(c) } ?? isSpace(c) }
        var scalars = Substring(s).unicodeScalars[...]
        if left { while let f = scalars.first, shouldStrip(f) { scalars.removeFirst() } }
        if right { while let l = scalars.last, shouldStrip(l) { scalars.removeLast() } }
        return String(String.UnicodeScalarView(scalars))
    }

    static func capitalize(_ s: String) -> String {
        guard let first = s.unicodeScalars.first else { return s }
        return String(first).uppercased() + String(String.UnicodeScalarView(s.unicodeScalars.dropFirst())).lowercased()
    }

    /// Python `str.title()`.
    static func pythonTitle(_ s: String) -> String {
        var out = ""
        var previousCased = false
        for c in s.unicodeScalars {
            let str = String(c)
            if c.properties.isCased {
                out += previousCased ? str.lowercased() : str.uppercased()
                previousCased = true
            } else {
                out += str
                previousCased = false
            }
        }
        return out
    }

    /// Jinja's `title` filter: capitalizes after whitespace, `-`, `(`, `{`, `[`, `<`.
    static func jinjaTitle(_ s: String) -> String {
        var out = ""
        var atWordStart = true
        for c in s.unicodeScalars {
            let boundary = isSpace(c) || c == "-" || c == "(" || c == "{" || c == "[" || c == "<"
            if boundary {
                out.unicodeScalars.append(c)
                atWordStart = true
            } else {
                out += atWordStart ? String(c).uppercased() : String(c).lowercased()
                atWordStart = false
            }
        }
        return out
    }

    static func htmlEscape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func stripTags(_ s: String) -> String {
        var out = ""
        var inTag = false
        for c in s.unicodeScalars {
            if c == "<" { inTag = true; continue }
            if c == ">" && inTag { inTag = false; continue }
            if !inTag { out.unicodeScalars.append(c) }
        }
        return splitWhitespace(out, maxSplit: -1).joined(separator: " ")
    }

    static func parseFloat(_ s: String) -> Double? {
        let t = strip(s, chars: nil, left: true, right: true).replacingOccurrences(of: "_", with: "")
        switch t.lowercased() {
        case "inf", "+inf", "infinity", "+infinity": return .infinity
        case "-inf", "-infinity": return -.infinity
        case "nan", "+nan", "-nan": return .nan
        default: break
        }
        guard !t.isEmpty, t.unicodeScalars.allSatisfy({ "0123456789.eE+-".unicodeScalars.contains($0) }) else { return nil }
        return Double(t)
    }

    static func find(_ s: String, _ sub: String) -> Int? {
        let h = Array(s.unicodeScalars), n = Array(sub.unicodeScalars)
        if n.isEmpty { return 0 }
        guard n.count <= h.count else { return nil }
        for i in 0...(h.count - n.count) where h[i] == n[0] && Array(h[i..<(i + n.count)]) == n { return i }
        return nil
    }

    static func rfind(_ s: String, _ sub: String) -> Int? {
        let h = Array(s.unicodeScalars), n = Array(sub.unicodeScalars)
        if n.isEmpty { return h.count }
        guard n.count <= h.count else { return nil }
        for i in stride(from: h.count - n.count, through: 0, by: -1) where h[i] == n[0] && Array(h[i..<(i + n.count)]) == n { return i }
        return nil
    }

    /// Non-overlapping occurrences, left to right, as scalar offsets.
    private static func occurrences(_ h: [Unicode.Scalar], _ n: [Unicode.Scalar], limit: Int) -> [Int] {
        var result: [Int] = []
        guard !n.isEmpty, n.count <= h.count else { return result }
        var i = 0
        while i <= h.count - n.count {
            if limit >= 0 && result.count >= limit { break }
            if h[i] == n[0] && h[i..<(i + n.count)].elementsEqual(n) {
                result.append(i)
                i += n.count
            } else {
                i += 1
            }
        }
        return result
    }

    static func count(_ s: String, _ sub: String) -> Int {
        let h = Array(s.unicodeScalars), n = Array(sub.unicodeScalars)
        if n.isEmpty { return h.count + 1 }
        return occurrences(h, n, limit: -1).count
    }

    static func replace(_ s: String, _ old: String, _ new: String, count: Int) -> String {
        let h = Array(s.unicodeScalars), n = Array(old.unicodeScalars)
        var out = String.UnicodeScalarView()
        if n.isEmpty {
            // Python inserts `new` between every character (and at both ends).
            var remaining = count < 0 ? Int.max : count
            for c in h {
                if remaining > 0 { out.append(contentsOf: new.unicodeScalars); remaining -= 1 }
                out.append(c)
            }
            if remaining > 0 { out.append(contentsOf: new.unicodeScalars) }
            return String(out)
        }
        var last = 0
        for i in occurrences(h, n, limit: count) {
            out.append(contentsOf: h[last..<i])
            out.append(contentsOf: new.unicodeScalars)
            last = i + n.count
        }
        out.append(contentsOf: h[last...])
        return String(out)
    }

    static func split(_ s: String, _ sep: String, maxSplit: Int) -> [String] {
        let h = Array(s.unicodeScalars), n = Array(sep.unicodeScalars)
        var parts: [String] = []
        var last = 0
        for i in occurrences(h, n, limit: maxSplit) {
            parts.append(String(String.UnicodeScalarView(h[last..<i])))
            last = i + n.count
        }
        parts.append(String(String.UnicodeScalarView(h[last...])))
        return parts
    }

    static func rsplit(_ s: String, _ sep: String, maxSplit: Int) -> [String] {
        func rev(_ x: String) -> String { String(String.UnicodeScalarView(x.unicodeScalars.reversed())) }
        return split(rev(s), rev(sep), maxSplit: maxSplit).map(rev).reversed()
    }

    /// Python `str.split()` with no separator.
    static func splitWhitespace(_ s: String, maxSplit: Int) -> [String] {
        var parts: [String] = []
        let h = Array(s.unicodeScalars)
        var i = 0
        while i < h.count {
            while i < h.count && isSpace(h[i]) { i += 1 }
            if i >= h.count { break }
            if maxSplit >= 0 && parts.count >= maxSplit {
                parts.append(String(String.UnicodeScalarView(h[i...])))
                break
            }
            let start = i
            while i < h.count && !isSpace(h[i]) { i += 1 }
            parts.append(String(String.UnicodeScalarView(h[start..<i])))
        }
        return parts
    }

    /// Python `str.splitlines()` (line boundaries dropped).
    static func splitLines(_ s: String) -> [String] {
        var lines: [String] = []
        var current = String.UnicodeScalarView()
        let h = Array(s.unicodeScalars)
        var i = 0
        while i < h.count {
            let c = h[i]
            switch c.value {
            case 0x0A, 0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029:
                lines.append(String(current))
                current = String.UnicodeScalarView()
            case 0x0D:
                lines.append(String(current))
                current = String.UnicodeScalarView()
                if i + 1 < h.count && h[i + 1] == "\n" { i += 1 }
            default:
                current.append(c)
            }
            i += 1
        }
        if !current.isEmpty { lines.append(String(current)) }
        return lines
    }

    /// `"{} and {name}".format(...)`: replacement fields without format specs
    /// (a spec after `:` is ignored).
    static func braceFormat(_ s: String, _ positional: [JinjaValue], _ keywords: [(String, JinjaValue)]) throws -> String {
        var out = ""
        let h = Array(s.unicodeScalars)
        var i = 0
        var auto = 0
        while i < h.count {
            let c = h[i]
            if c == "{" {
                if i + 1 < h.count && h[i + 1] == "{" { out += "{"; i += 2; continue }
                guard let close = h[(i + 1)...].firstIndex(of: "}") else {
                    throw JinjaError.runtime(message: "Single '{' encountered in format string")
                }
                var field = String(String.UnicodeScalarView(h[(i + 1)..<close]))
                if let colon = field.firstIndex(of: ":") { field = String(field[..<colon]) }
                let value: JinjaValue
                if field.isEmpty {
                    guard auto < positional.count else { throw JinjaError.runtime(message: "Replacement index \(auto) out of range") }
                    value = positional[auto]
                    auto += 1
                } else if let n = Int(field) {
                    guard n >= 0 && n < positional.count else { throw JinjaError.runtime(message: "Replacement index \(n) out of range") }
                    value = positional[n]
                } else {
                    guard let kw = keywords.first(where: { $0.0 == field }) else { throw JinjaError.runtime(message: "KeyError: '\(field)'") }
                    value = kw.1
                }
                out += value.pythonString
                i = close + 1
            } else if c == "}" {
                if i + 1 < h.count && h[i + 1] == "}" { out += "}"; i += 2; continue }
                throw JinjaError.runtime(message: "Single '}' encountered in format string")
            } else {
                out.unicodeScalars.append(c)
                i += 1
            }
        }
        return out
    }

    /// Printf-style `"%s" % args` as used by the `format` filter (`%s`, `%d`,
    /// `%i`, `%r`, `%f`, `%%`).
    static func percentFormat(_ s: String, _ args: [JinjaValue]) throws -> String {
        var out = ""
        let h = Array(s.unicodeScalars)
        var i = 0
        var next = 0
        while i < h.count {
            let c = h[i]
            guard c == "%", i + 1 < h.count else { out.unicodeScalars.append(c); i += 1; continue }
            let spec = h[i + 1]
            i += 2
            if spec == "%" { out += "%"; continue }
            guard next < args.count else { throw JinjaError.runtime(message: "not enough arguments for format string") }
            let v = args[next]
            next += 1
            switch spec {
            case "s": out += v.pythonString
            case "r": out += v.pythonRepr
            case "d", "i":
                switch v {
                case .int(let n): out += String(n)
                case .double(let d) where d.isFinite && abs(d) < 9.2e18: out += String(Int(d))
                case .bool(let b): out += b ? "1" : "0"
                default: throw JinjaError.type(operation: "format", message: "%d format: a real number is required, not \(v.typeName)")
                }
            case "f":
                guard let d = v.doubleValue else { throw JinjaError.type(operation: "format", message: "must be real number, not \(v.typeName)") }
                out += String(format: "%.6f", d)
            default:
                throw JinjaError.runtime(message: "unsupported format character '\(spec)'")
            }
        }
        return out
    }
}

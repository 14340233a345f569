import Foundation
import FlintJinja

/// A small JSON Schema validator for the subset the compiler supports, used to
/// check what constrained generation produces. (`oneOf` is checked as
/// `anyOf`, which is what the grammar enforces.)
struct SchemaValidator {
    let root: JinjaValue

    func validate(_ v: JinjaValue) -> String? { validate(v, root, path: "$") }

    func resolve(_ ref: String) -> JinjaValue? {
        if ref == "#" { return root }
        for (prefix, key) in [("#/$defs/", "$defs"), ("#/definitions/", "definitions")] where ref.hasPrefix(prefix) {
            return root[key]?[String(ref.dropFirst(prefix.count))]
        }
        return nil
    }

    func typeMatches(_ t: String, _ v: JinjaValue) -> Bool {
        switch (t, v) {
        case ("string", .string), ("boolean", .bool), ("null", .none), ("array", .array), ("object", .object),
             ("json_object", .object): return true
        case ("number", .int), ("number", .double): return true
        case ("integer", .int): return true
        case ("integer", .double(let d)): return d == d.rounded()
        default: return false
        }
    }

    func validate(_ v: JinjaValue, _ schema: JinjaValue, path: String) -> String? {
        if schema.boolValue == true { return nil }
        guard case .object(let s) = schema else { return "\(path): bad schema" }
        if let r = s["$ref"]?.stringValue {
            guard let target = resolve(r) else { return "\(path): unresolved \(r)" }
            return validate(v, target, path: path)
        }
        if let c = s["const"], c != v { return "\(path): \(v) is not the const" }
        if let e = s["enum"]?.arrayValue, !e.contains(where: { $0 == v }) { return "\(path): \(v) not in enum" }
        for key in ["anyOf", "oneOf"] {
            if let subs = s[key]?.arrayValue {
                var base = s
                base[key] = nil
                if validate(v, .object(base), path: path) != nil { return validate(v, .object(base), path: path) }
                if !subs.contains(where: { validate(v, $0, path: path) == nil }) { return "\(path): no \(key) branch matches" }
            }
        }
        if let subs = s["allOf"]?.arrayValue {
            for sub in subs { if let e = validate(v, sub, path: path) { return e } }
        }
        if let t = s["type"] {
            let types = t.arrayValue?.compactMap { $0.stringValue } ?? [t.stringValue ?? ""]
            if !types.contains(where: { typeMatches($0, v) }) { return "\(path): \(v) is not of type \(types)" }
        }
        switch v {
        case .string(let str):
            let n = str.unicodeScalars.count
            if let m = s["minLength"]?.intValue, n < m { return "\(path): too short" }
            if let m = s["maxLength"]?.intValue, n > m { return "\(path): too long" }
            if let p = s["pattern"]?.stringValue {
                let re = try! NSRegularExpression(pattern: "^(?:" + p + ")$")
                let ns = str as NSString
                if re.firstMatch(in: str, range: NSRange(location: 0, length: ns.length)) == nil {
                    return "\(path): \(str.debugDescription) does not match \(p)"
                }
            }
        case .int, .double:
            let d = v.doubleValue!
            if let m = s["minimum"]?.doubleValue, d < m { return "\(path): \(d) < minimum \(m)" }
            if let m = s["maximum"]?.doubleValue, d > m { return "\(path): \(d) > maximum \(m)" }
            if let m = s["exclusiveMinimum"]?.doubleValue, d <= m { return "\(path): \(d) <= exclusiveMinimum" }
            if let m = s["exclusiveMaximum"]?.doubleValue, d >= m { return "\(path): \(d) >= exclusiveMaximum" }
        case .array(let a):
            if let m = s["minItems"]?.intValue, a.count < m { return "\(path): too few items" }
            if let m = s["maxItems"]?.intValue, a.count > m { return "\(path): too many items" }
            let prefix = s["prefixItems"]?.arrayValue ?? []
            for (i, item) in a.enumerated() {
                let sub = i < prefix.count ? prefix[i] : (s["items"] ?? .bool(true))
                if sub.boolValue == false { return "\(path): extra item" }
                if let e = validate(item, sub, path: "\(path)[\(i)]") { return e }
            }
        case .object(let o):
            let props = s["properties"]?.objectValue ?? JinjaObject()
            for r in s["required"]?.arrayValue ?? [] {
                if let k = r.stringValue, o[k] == nil { return "\(path): missing \(k)" }
            }
            for (k, val) in o {
                if let ps = props[k] {
                    if let e = validate(val, ps, path: "\(path).\(k)") { return e }
                } else if let ap = s["additionalProperties"] {
                    if ap.boolValue == false { return "\(path): extra key \(k)" }
                    if let e = validate(val, ap, path: "\(path).\(k)") { return e }
                }
            }
        default: break
        }
        return nil
    }
}

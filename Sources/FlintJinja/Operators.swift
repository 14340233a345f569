import Foundation

/// Python semantics for the binary operators of the template language.
extension Interpreter {
    func binaryOperation(_ op: Expr.BinaryOp, _ l: JinjaValue, _ r: JinjaValue) throws -> JinjaValue {
        switch op {
        case .eq: return .bool(Operators.equals(l, r))
        case .ne: return .bool(!Operators.equals(l, r))
        case .lt, .le, .gt, .ge:
            let c = try Operators.compare(l, r, op.rawValue)
            switch op {
            case .lt: return .bool(c < 0)
            case .le: return .bool(c <= 0)
            case .gt: return .bool(c > 0)
            default: return .bool(c >= 0)
            }
        case .in: return .bool(try Operators.contains(r, l))
        case .notIn: return .bool(!(try Operators.contains(r, l)))
        case .concat: return .string(l.pythonString + r.pythonString)
        case .add:
            switch (l, r) {
            case let (.string(a), .string(b)): return .string(a + b)
            case let (.array(a), .array(b)): return .array(a + b)
            default: return try Operators.arithmetic(op, l, r)
            }
        case .mul:
            switch (l, r) {
            case (.string(let s), _) where Interpreter.integerIndex(r) != nil:
                let n = max(0, Interpreter.integerIndex(r) ?? 0)
                if n > 0 && s.utf8.count > 0 && n > limits.maxOutputBytes / s.utf8.count {
                    throw JinjaError.limitExceeded(what: "output size in bytes", limit: limits.maxOutputBytes)
                }
                return .string(String(repeating: s, count: n))
            case (_, .string) where Interpreter.integerIndex(l) != nil:
                return try binaryOperation(.mul, r, l)
            case (.array(let a), _) where Interpreter.integerIndex(r) != nil:
                let n = max(0, Interpreter.integerIndex(r) ?? 0)
                if n > 0 && a.count > 0 && n > limits.maxCollectionSize / a.count {
                    throw JinjaError.limitExceeded(what: "list size", limit: limits.maxCollectionSize)
                }
                return .array(Array([[JinjaValue]](repeating: a, count: n).joined()))
            default: return try Operators.arithmetic(op, l, r)
            }
        default:
            return try Operators.arithmetic(op, l, r)
        }
    }
}

enum Operators {
    enum Number {
        case int(Int)
        case double(Double)
    }

    static func number(_ v: JinjaValue) -> Number? {
        switch v {
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .bool(let b): return .int(b ? 1 : 0)
        default: return nil
        }
    }

    static func typeError(_ op: String, _ l: JinjaValue, _ r: JinjaValue) -> JinjaError {
        if case .undefined = l { return .type(operation: "'\(op)'", message: "left operand is undefined") }
        if case .undefined = r { return .type(operation: "'\(op)'", message: "right operand is undefined") }
        return .type(operation: "'\(op)'", message: "unsupported operand type(s) for \(op): '\(l.typeName)' and '\(r.typeName)'")
    }

    static func overflow(_ op: String) -> JinjaError {
        .runtime(message: "integer overflow in '\(op)'")
    }

    static func floorDivInt(_ a: Int, _ b: Int) -> Int {
        let q = a / b
        return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q
    }

    static func modInt(_ a: Int, _ b: Int) -> Int {
        let m = a % b
        return (m != 0 && ((m < 0) != (b < 0))) ? m + b : m
    }

    static func arithmetic(_ op: Expr.BinaryOp, _ l: JinjaValue, _ r: JinjaValue) throws -> JinjaValue {
        guard let a = number(l), let b = number(r) else { throw typeError(op.rawValue, l, r) }
        switch (a, b) {
        case let (.int(x), .int(y)):
            switch op {
            case .add:
                let (v, o) = x.addingReportingOverflow(y)
                if o { throw overflow("+") }
                return .int(v)
            case .sub:
                let (v, o) = x.subtractingReportingOverflow(y)
                if o { throw overflow("-") }
                return .int(v)
            case .mul:
                let (v, o) = x.multipliedReportingOverflow(by: y)
                if o { throw overflow("*") }
                return .int(v)
            case .div:
                guard y != 0 else { throw JinjaError.runtime(message: "division by zero") }
                return .double(Double(x) / Double(y))
            case .floorDiv:
                guard y != 0 else { throw JinjaError.runtime(message: "integer division or modulo by zero") }
                if x == Int.min && y == -1 { throw overflow("//") }
                return .int(floorDivInt(x, y))
            case .mod:
                guard y != 0 else { throw JinjaError.runtime(message: "integer division or modulo by zero") }
                if y == -1 { return .int(0) }
                return .int(modInt(x, y))
            case .pow:
                if y < 0 { return .double(pow(Double(x), Double(y))) }
                var result = 1
                var base = x
                var e = y
                while e > 0 {
                    if e & 1 == 1 {
                        let (v, o) = result.multipliedReportingOverflow(by: base)
                        if o { throw overflow("**") }
                        result = v
                    }
                    e >>= 1
                    if e > 0 {
                        let (v, o) = base.multipliedReportingOverflow(by: base)
                        if o { throw overflow("**") }
                        base = v
                    }
                }
                return .int(result)
            default:
                throw typeError(op.rawValue, l, r)
            }
        default:
            let x: Double, y: Double
            switch a { case .int(let i): x = Double(i); case .double(let d): x = d }
            switch b { case .int(let i): y = Double(i); case .double(let d): y = d }
            switch op {
            case .add: return .double(x + y)
            case .sub: return .double(x - y)
            case .mul: return .double(x * y)
            case .div:
                guard y != 0 else { throw JinjaError.runtime(message: "float division by zero") }
                return .double(x / y)
            case .floorDiv:
                guard y != 0 else { throw JinjaError.runtime(message: "float floor division by zero") }
                return .double((x / y).rounded(.down))
            case .mod:
                guard y != 0 else { throw JinjaError.runtime(message: "float modulo by zero") }
                var m = fmod(x, y)
                if m != 0 && ((m < 0) != (y < 0)) { m += y }
                return .double(m)
            case .pow: return .double(pow(x, y))
            default: throw typeError(op.rawValue, l, r)
            }
        }
    }

    /// Python `==`.
    static func equals(_ l: JinjaValue, _ r: JinjaValue) -> Bool {
        if let a = number(l), let b = number(r) {
            switch (a, b) {
            case let (.int(x), .int(y)): return x == y
            case let (.int(x), .double(y)): return Double(x) == y
            case let (.double(x), .int(y)): return x == Double(y)
            case let (.double(x), .double(y)): return x == y
            }
        }
        switch (l, r) {
        case (.undefined, .undefined), (.none, .none): return true
        case let (.string(a), .string(b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case let (.array(a), .array(b)):
            return a.count == b.count && zip(a, b).allSatisfy { equals($0, $1) }
        case let (.object(a), .object(b)):
            guard a.count == b.count else { return false }
            for (k, v) in a {
                guard let w = b[k], equals(v, w) else { return false }
            }
            return true
        case let (.callable(a), .callable(b)): return a.name == b.name
        default: return false
        }
    }

    /// Python ordering: returns -1, 0 or 1, or throws for unorderable types.
    static func compare(_ l: JinjaValue, _ r: JinjaValue, _ op: String) throws -> Int {
        if let a = number(l), let b = number(r) {
            let x: Double, y: Double
            switch (a, b) {
            case let (.int(p), .int(q)): return p < q ? -1 : (p > q ? 1 : 0)
            case let (.int(p), .double(q)): x = Double(p); y = q
            case let (.double(p), .int(q)): x = p; y = Double(q)
            case let (.double(p), .double(q)): x = p; y = q
            }
            return x < y ? -1 : (x > y ? 1 : 0)
        }
        switch (l, r) {
        case let (.string(a), .string(b)):
            if a.unicodeScalars.elementsEqual(b.unicodeScalars) { return 0 }
            return a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) ? -1 : 1
        case let (.array(a), .array(b)):
            for (x, y) in zip(a, b) where !equals(x, y) {
                return try compare(x, y, op)
            }
            return a.count < b.count ? -1 : (a.count > b.count ? 1 : 0)
        default:
            throw JinjaError.type(operation: "'\(op)'", message: "'\(op)' not supported between instances of '\(l.typeName)' and '\(r.typeName)'")
        }
    }

    /// Python `needle in container`.
    static func contains(_ container: JinjaValue, _ needle: JinjaValue) throws -> Bool {
        switch container {
        case .string(let s):
            guard case .string(let n) = needle else {
                throw JinjaError.type(operation: "'in'", message: "'in <string>' requires string as left operand, not \(needle.typeName)")
            }
            if n.isEmpty { return true }
            return StringMethods.find(s, n) != nil
        case .array(let a): return a.contains { equals($0, needle) }
        case .object(let o):
            if case .string(let k) = needle { return o.contains(key: k) }
            return false
        case .undefined: return false
        default:
            throw JinjaError.type(operation: "'in'", message: "argument of type '\(container.typeName)' is not iterable")
        }
    }
}

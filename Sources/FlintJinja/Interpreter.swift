import Foundation

/// Safety limits applied while rendering.
public struct RenderLimits: Sendable {
    /// Maximum size of the rendered output (and of any intermediate string), in UTF-8 bytes.
    public var maxOutputBytes: Int
    /// Maximum total number of loop iterations (all loops together).
    public var maxLoopIterations: Int
    /// Maximum macro call depth.
    public var maxCallDepth: Int
    /// Maximum number of elements in a list built by the template.
    public var maxCollectionSize: Int

    public init(maxOutputBytes: Int = 16 << 20, maxLoopIterations: Int = 5_000_000,
                maxCallDepth: Int = 64, maxCollectionSize: Int = 1_000_000) {
        self.maxOutputBytes = maxOutputBytes
        self.maxLoopIterations = maxLoopIterations
        self.maxCallDepth = maxCallDepth
        self.maxCollectionSize = maxCollectionSize
    }
}

/// Tree-walking evaluator. One instance renders one template once.
final class Interpreter {
    enum Flow { case normal, breakLoop, continueLoop }

    static let builtinGlobals: Set<String> = ["range", "namespace", "dict", "raise_exception", "strftime_now", "joiner", "cycler"]

    let limits: RenderLimits
    var frames: [[String: JinjaValue]]
    private var iterations = 0
    private var callDepth = 0
    private var evalDepth = 0
    /// Bound on nested expression evaluation (including through macro calls),
    /// keeping stack use safe even in unoptimised builds.
    static let maxEvalDepth = 1500

    init(context: [String: JinjaValue], limits: RenderLimits) {
        self.limits = limits
        self.frames = [context, [:]]
    }

    func render(_ nodes: [Node]) throws -> String {
        var out = ""
        _ = try execute(nodes, into: &out)
        return out
    }

    // MARK: - Limits

    func checkSize(_ s: String) throws {
        if s.utf8.count > limits.maxOutputBytes {
            throw JinjaError.limitExceeded(what: "output size in bytes", limit: limits.maxOutputBytes)
        }
    }

    func checkCount(_ n: Int) throws {
        if n > limits.maxCollectionSize {
            throw JinjaError.limitExceeded(what: "list size", limit: limits.maxCollectionSize)
        }
    }

    private func emit(_ s: String, into out: inout String) throws {
        out += s
        try checkSize(out)
    }

    private func countIteration() throws {
        iterations += 1
        if iterations > limits.maxLoopIterations {
            throw JinjaError.limitExceeded(what: "loop iterations", limit: limits.maxLoopIterations)
        }
    }

    // MARK: - Variables

    func lookup(_ name: String) -> JinjaValue {
        for i in stride(from: frames.count - 1, through: 0, by: -1) {
            if let v = frames[i][name] { return v }
        }
        if Interpreter.builtinGlobals.contains(name) { return .callable(JinjaCallable(builtin: name)) }
        return .undefined
    }

    private func assign(_ target: AssignTarget, _ value: JinjaValue) throws {
        switch target {
        case .name(let n):
            frames[frames.count - 1][n] = value
        case .tuple(let targets):
            let items = try iterate(value, operation: "unpacking")
            guard items.count == targets.count else {
                throw JinjaError.runtime(message: "cannot unpack \(items.count) values into \(targets.count) variables")
            }
            for (t, v) in zip(targets, items) { try assign(t, v) }
        case .attribute(let name, let attr):
            for i in stride(from: frames.count - 1, through: 0, by: -1) {
                if let existing = frames[i][name] {
                    guard case .object(var obj) = existing else {
                        throw JinjaError.type(operation: "set", message: "cannot assign attribute '\(attr)' on non-namespace object '\(name)'")
                    }
                    obj[attr] = value
                    frames[i][name] = .object(obj)
                    return
                }
            }
            throw JinjaError.undefined(name: name)
        }
    }

    // MARK: - Statements

    func execute(_ nodes: [Node], into out: inout String) throws -> Flow {
        for node in nodes {
            let flow = try execute(node, into: &out)
            if flow != .normal { return flow }
        }
        return .normal
    }

    private func execute(_ node: Node, into out: inout String) throws -> Flow {
        switch node {
        case .text(let s):
            try emit(s, into: &out)
        case .output(let e):
            try emit(try evaluate(e).pythonString, into: &out)
        case .ifBlock(let branches, let otherwise):
            for branch in branches where try evaluate(branch.condition).isTruthy {
                return try execute(branch.body, into: &out)
            }
            if let otherwise { return try execute(otherwise, into: &out) }
        case .forLoop(let loop):
            try executeFor(loop, into: &out)
        case .set(let target, let value):
            try assign(target, try evaluate(value))
        case .setBlock(let target, let filters, let body):
            var value = JinjaValue.string(try capture(body))
            for f in filters { value = try applyFilter(f, to: value) }
            try assign(target, value)
        case .macro(let def):
            frames[frames.count - 1][def.name] = .callable(JinjaCallable(macro: def))
        case .callBlock(let call, let caller):
            guard case .call(let callee, let args) = call else { break }
            let extra = (name: "caller", value: JinjaValue.callable(JinjaCallable(macro: caller)))
            let result = try evaluateCall(callee, args, extraKeyword: extra)
            try emit(result.pythonString, into: &out)
        case .filterBlock(let filters, let body):
            var value = JinjaValue.string(try capture(body))
            for f in filters { value = try applyFilter(f, to: value) }
            try emit(value.pythonString, into: &out)
        case .with(let assignments, let body):
            var values: [(AssignTarget, JinjaValue)] = []
            for a in assignments { values.append((a.target, try evaluate(a.value))) }
            frames.append([:])
            defer { frames.removeLast() }
            for (t, v) in values { try assign(t, v) }
            return try execute(body, into: &out)
        case .generation(let body):
            return try execute(body, into: &out)
        case .breakLoop:
            return .breakLoop
        case .continueLoop:
            return .continueLoop
        }
        return .normal
    }

    private func capture(_ body: [Node]) throws -> String {
        var buffer = ""
        _ = try execute(body, into: &buffer)
        return buffer
    }

    private func applyFilter(_ f: Node.FilterCall, to value: JinjaValue) throws -> JinjaValue {
        let (positional, keywords) = try evaluateArguments(f.arguments)
        return try applyFilter(f.name, value, positional, keywords)
    }

    private func executeFor(_ loop: Node.ForLoop, into out: inout String) throws {
        if loop.recursive {
            throw JinjaError.runtime(message: "recursive for loops are not supported")
        }
        let iterable = try evaluate(loop.iterable)
        var items = try iterate(iterable, operation: "for loop")
        if let filter = loop.filter {
            var kept: [JinjaValue] = []
            for item in items {
                try countIteration()
                frames.append([:])
                defer { frames.removeLast() }
                try assign(loop.target, item)
                if try evaluate(filter).isTruthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty {
            if let otherwise = loop.otherwise { _ = try execute(otherwise, into: &out) }
            return
        }
        let length = items.count
        for (index, item) in items.enumerated() {
            try countIteration()
            let loopObject: JinjaObject = [
                "index": .int(index + 1),
                "index0": .int(index),
                "revindex": .int(length - index),
                "revindex0": .int(length - index - 1),
                "first": .bool(index == 0),
                "last": .bool(index == length - 1),
                "length": .int(length),
                "previtem": index > 0 ? items[index - 1] : .undefined,
                "nextitem": index + 1 < length ? items[index + 1] : .undefined,
                "depth": .int(1),
                "depth0": .int(0),
                "cycle": .callable(JinjaCallable(name: "cycle") { args, _ in
                    guard !args.isEmpty else { throw JinjaError.runtime(message: "no items for cycling given") }
                    return args[index % args.count]
                }),
            ]
            frames.append(["loop": .object(loopObject)])
            defer { frames.removeLast() }
            try assign(loop.target, item)
            let flow = try execute(loop.body, into: &out)
            if flow == .breakLoop { break }
        }
    }

    // MARK: - Iteration helpers

    func iterate(_ value: JinjaValue, operation: String) throws -> [JinjaValue] {
        switch value {
        case .array(let a): return a
        case .object(let o): return o.keys.map { .string($0) }
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        default:
            throw JinjaError.type(operation: operation, message: "'\(value.typeName)' object is not iterable")
        }
    }

    // MARK: - Expressions

    /// Evaluates an expression. Each case lives in its own small function so
    /// that deep (but bounded) expression trees use little stack per level.
    func evaluate(_ expr: Expr) throws -> JinjaValue {
        evalDepth += 1
        defer { evalDepth -= 1 }
        if evalDepth > Interpreter.maxEvalDepth {
            throw JinjaError.limitExceeded(what: "expression evaluation depth", limit: Interpreter.maxEvalDepth)
        }
        switch expr {
        case .literal(let v): return v
        case .name(let n): return lookup(n)
        case .list(let items), .tuple(let items): return try evaluateList(items)
        case .dict(let pairs): return try evaluateDict(pairs)
        case .attribute(let base, let name): return getAttribute(try evaluate(base), name)
        case .index(let base, let index): return try getItem(try evaluate(base), try evaluate(index))
        case .slice(let base, let start, let stop, let step): return try evaluateSlice(base, start, stop, step)
        case .call(let callee, let args): return try evaluateCall(callee, args, extraKeyword: nil)
        case .filter(let base, let name, let args): return try evaluateFilter(base, name, args)
        case .test(let base, let name, let args, let negated): return try evaluateTest(base, name, args, negated)
        case .unary(let op, let operand): return try evaluateUnary(op, operand)
        case .binary(let op, let lhs, let rhs): return try evaluateBinary(op, lhs, rhs)
        case .and(let lhs, let rhs): return try evaluateAnd(lhs, rhs)
        case .or(let lhs, let rhs): return try evaluateOr(lhs, rhs)
        case .not(let e): return .bool(!(try evaluate(e)).isTruthy)
        case .conditional(let condition, let then, let otherwise): return try evaluateConditional(condition, then, otherwise)
        }
    }

    private func evaluateList(_ items: [Expr]) throws -> JinjaValue {
        try checkCount(items.count)
        return .array(try items.map { try evaluate($0) })
    }

    private func evaluateDict(_ pairs: [(key: Expr, value: Expr)]) throws -> JinjaValue {
        var obj = JinjaObject()
        for p in pairs {
            let key = try evaluate(p.key)
            obj[key.pythonString] = try evaluate(p.value)
        }
        return .object(obj)
    }

    private func evaluateSlice(_ base: Expr, _ start: Expr?, _ stop: Expr?, _ step: Expr?) throws -> JinjaValue {
        try slice(try evaluate(base), start: start.map { try evaluate($0) },
                  stop: stop.map { try evaluate($0) }, step: step.map { try evaluate($0) })
    }

    private func evaluateFilter(_ base: Expr, _ name: String, _ args: [Expr.Argument]) throws -> JinjaValue {
        let value = try evaluate(base)
        let (positional, keywords) = try evaluateArguments(args)
        return try applyFilter(name, value, positional, keywords)
    }

    private func evaluateTest(_ base: Expr, _ name: String, _ args: [Expr.Argument], _ negated: Bool) throws -> JinjaValue {
        let value = try evaluate(base)
        let (positional, keywords) = try evaluateArguments(args)
        let result = try applyTest(name, value, positional, keywords)
        return .bool(negated ? !result : result)
    }

    private func evaluateUnary(_ op: Expr.UnaryOp, _ operand: Expr) throws -> JinjaValue {
        let v = try evaluate(operand)
        switch (op, v) {
        case (.minus, .int(let i)):
            guard i != Int.min else { throw JinjaError.runtime(message: "integer overflow") }
            return .int(-i)
        case (.minus, .bool(let b)): return .int(b ? -1 : 0)
        case (.minus, .double(let d)): return .double(-d)
        case (.plus, .int), (.plus, .double): return v
        case (.plus, .bool(let b)): return .int(b ? 1 : 0)
        default:
            throw JinjaError.type(operation: "unary \(op == .minus ? "-" : "+")", message: "bad operand type '\(v.typeName)'")
        }
    }

    private func evaluateBinary(_ op: Expr.BinaryOp, _ lhs: Expr, _ rhs: Expr) throws -> JinjaValue {
        let l = try evaluate(lhs)
        let r = try evaluate(rhs)
        let result = try binaryOperation(op, l, r)
        switch result {
        case .string(let s): try checkSize(s)
        case .array(let a): try checkCount(a.count)
        default: break
        }
        return result
    }

    private func evaluateAnd(_ lhs: Expr, _ rhs: Expr) throws -> JinjaValue {
        let l = try evaluate(lhs)
        return l.isTruthy ? try evaluate(rhs) : l
    }

    private func evaluateOr(_ lhs: Expr, _ rhs: Expr) throws -> JinjaValue {
        let l = try evaluate(lhs)
        return l.isTruthy ? l : try evaluate(rhs)
    }

    private func evaluateConditional(_ condition: Expr, _ then: Expr, _ otherwise: Expr?) throws -> JinjaValue {
        if try evaluate(condition).isTruthy { return try evaluate(then) }
        guard let otherwise else { return .undefined }
        return try evaluate(otherwise)
    }

    func evaluateArguments(_ args: [Expr.Argument]) throws -> ([JinjaValue], [(String, JinjaValue)]) {
        var positional: [JinjaValue] = []
        var keywords: [(String, JinjaValue)] = []
        for a in args {
            let v = try evaluate(a.value)
            if let name = a.name { keywords.append((name, v)) } else { positional.append(v) }
        }
        return (positional, keywords)
    }

    /// Jinja's `getattr`: dictionary keys (attribute access on a dict), list
    /// index by integer name; missing gives undefined.
    func getAttribute(_ base: JinjaValue, _ name: String) -> JinjaValue {
        switch base {
        case .object(let o): return o[name] ?? .undefined
        default: return .undefined
        }
    }

    func getItem(_ base: JinjaValue, _ index: JinjaValue) throws -> JinjaValue {
        switch (base, index) {
        case (.object(let o), .string(let k)):
            return o[k] ?? .undefined
        case (.object(let o), _):
            return o[index.pythonString] ?? .undefined
        case (.array(let a), _):
            guard let i = Interpreter.integerIndex(index) else {
                throw JinjaError.type(operation: "subscript", message: "list indices must be integers, not \(index.typeName)")
            }
            let j = i < 0 ? a.count + i : i
            return j >= 0 && j < a.count ? a[j] : .undefined
        case (.string(let s), _):
            guard let i = Interpreter.integerIndex(index) else {
                throw JinjaError.type(operation: "subscript", message: "string indices must be integers, not \(index.typeName)")
            }
            let scalars = Array(s.unicodeScalars)
            let j = i < 0 ? scalars.count + i : i
            return j >= 0 && j < scalars.count ? .string(String(scalars[j])) : .undefined
        case (.undefined, _), (.none, _):
            return .undefined
        default:
            return .undefined
        }
    }

    static func integerIndex(_ v: JinjaValue) -> Int? {
        switch v {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    private func slice(_ base: JinjaValue, start: JinjaValue?, stop: JinjaValue?, step: JinjaValue?) throws -> JinjaValue {
        func bound(_ v: JinjaValue?) throws -> Int? {
            guard let v else { return nil }
            if case .none = v { return nil }
            if case .undefined = v { return nil }
            guard let i = Interpreter.integerIndex(v) else {
                throw JinjaError.type(operation: "slice", message: "slice indices must be integers or None")
            }
            return i
        }
        let stepValue = try bound(step) ?? 1
        guard stepValue != 0 else { throw JinjaError.runtime(message: "slice step cannot be zero") }
        let startValue = try bound(start)
        let stopValue = try bound(stop)
        switch base {
        case .array(let a):
            let idx = Interpreter.sliceIndices(count: a.count, start: startValue, stop: stopValue, step: stepValue)
            return .array(idx.map { a[$0] })
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            let idx = Interpreter.sliceIndices(count: scalars.count, start: startValue, stop: stopValue, step: stepValue)
            var v = String.UnicodeScalarView()
            for i in idx { v.append(scalars[i]) }
            return .string(String(v))
        case .undefined:
            return .undefined
        default:
            throw JinjaError.type(operation: "slice", message: "'\(base.typeName)' object is not subscriptable")
        }
    }

    /// Python `slice.indices` semantics.
    static func sliceIndices(count: Int, start: Int?, stop: Int?, step: Int) -> [Int] {
        var result: [Int] = []
        if step > 0 {
            var s = start ?? 0
            var e = stop ?? count
            if s < 0 { s = max(0, s + count) }
            if e < 0 { e = max(0, e + count) }
            s = min(s, count)
            e = min(e, count)
            var i = s
            while i < e {
                result.append(i)
                let (next, overflow) = i.addingReportingOverflow(step)
                if overflow { break }
                i = next
            }
        } else {
            var s = start ?? (count - 1)
            var e = stop ?? -1 - count // sentinel meaning "before the beginning"
            if s < 0 { s += count }
            if s >= count { s = count - 1 }
            if stop != nil {
                if e < 0 { e += count }
                if e < -1 { e = -1 }
            } else {
                e = -1
            }
            var i = s
            while i > e && i >= 0 {
                result.append(i)
                let (next, overflow) = i.addingReportingOverflow(step)
                if overflow { break }
                i = next
            }
        }
        return result
    }

    // MARK: - Calls

    private func evaluateCall(_ callee: Expr, _ args: [Expr.Argument], extraKeyword: (name: String, value: JinjaValue)?) throws -> JinjaValue {
        var (positional, keywords) = try evaluateArguments(args)
        if let extraKeyword { keywords.append((extraKeyword.name, extraKeyword.value)) }
        if case .attribute(let baseExpr, let name) = callee {
            let base = try evaluate(baseExpr)
            if case .object(let o) = base, let member = o[name], case .callable(let c) = member {
                return try call(c, positional, keywords)
            }
            if let result = try callMethod(base, name, positional, keywords) {
                return result
            }
            let member = getAttribute(base, name)
            if case .callable(let c) = member { return try call(c, positional, keywords) }
            if case .undefined = base {
                throw JinjaError.undefined(name: baseExpr.shortDescription)
            }
            if case .undefined = member {
                throw JinjaError.type(operation: "call", message: "'\(base.typeName)' object has no method '\(name)'")
            }
            throw JinjaError.type(operation: "call", message: "'\(member.typeName)' object '\(callee.shortDescription)' is not callable")
        }
        let f = try evaluate(callee)
        switch f {
        case .callable(let c):
            return try call(c, positional, keywords)
        case .undefined:
            throw JinjaError.undefined(name: callee.shortDescription)
        default:
            throw JinjaError.type(operation: "call", message: "'\(f.typeName)' object '\(callee.shortDescription)' is not callable")
        }
    }

    func call(_ c: JinjaCallable, _ positional: [JinjaValue], _ keywords: [(String, JinjaValue)]) throws -> JinjaValue {
        switch c.kind {
        case .macro(let def):
            return try callMacro(def, positional, keywords)
        case .builtin(let name):
            return try callBuiltin(name, positional, keywords)
        case .function(let fn):
            return try fn(positional, keywords)
        }
    }

    private func callMacro(_ def: MacroDefinition, _ positional: [JinjaValue], _ keywords: [(String, JinjaValue)]) throws -> JinjaValue {
        callDepth += 1
        defer { callDepth -= 1 }
        if callDepth > limits.maxCallDepth {
            throw JinjaError.limitExceeded(what: "macro call depth", limit: limits.maxCallDepth)
        }
        let saved = frames
        frames = [frames[0], frames.count > 1 ? frames[1] : [:], [:]]
        defer { frames = saved }
        var kwargs = JinjaObject()
        var provided: [String: JinjaValue] = [:]
        for (k, v) in keywords {
            if def.parameters.contains(where: { $0.name == k }) || k == "caller" {
                provided[k] = v
            } else {
                kwargs[k] = v
            }
        }
        var varargs: [JinjaValue] = []
        for (i, v) in positional.enumerated() {
            if i < def.parameters.count {
                let name = def.parameters[i].name
                if provided[name] != nil {
                    throw JinjaError.runtime(message: "macro '\(def.name)' got multiple values for argument '\(name)'")
                }
                provided[name] = v
            } else {
                varargs.append(v)
            }
        }
        let top = frames.count - 1
        frames[top]["varargs"] = .array(varargs)
        frames[top]["kwargs"] = .object(kwargs)
        if let caller = provided["caller"] { frames[top]["caller"] = caller }
        for p in def.parameters {
            if let v = provided[p.name] {
                frames[top][p.name] = v
            } else if let d = p.defaultValue {
                frames[top][p.name] = try evaluate(d)
            } else {
                frames[top][p.name] = .undefined
            }
        }
        var out = ""
        _ = try execute(def.body, into: &out)
        return .string(out)
    }

    private func callBuiltin(_ name: String, _ positional: [JinjaValue], _ keywords: [(String, JinjaValue)]) throws -> JinjaValue {
        switch name {
        case "raise_exception":
            throw JinjaError.raised(message: positional.first?.pythonString ?? keywords.first?.1.pythonString ?? "")
        case "namespace", "dict":
            var obj = JinjaObject()
            for p in positional {
                guard case .object(let o) = p else {
                    throw JinjaError.type(operation: name, message: "expected a mapping, got '\(p.typeName)'")
                }
                for (k, v) in o { obj[k] = v }
            }
            for (k, v) in keywords { obj[k] = v }
            return .object(obj)
        case "range":
            var ints: [Int] = []
            for p in positional {
                guard let i = Interpreter.integerIndex(p) else {
                    throw JinjaError.type(operation: "range", message: "'\(p.typeName)' object cannot be interpreted as an integer")
                }
                ints.append(i)
            }
            let (start, stop, step): (Int, Int, Int)
            switch ints.count {
            case 1: (start, stop, step) = (0, ints[0], 1)
            case 2: (start, stop, step) = (ints[0], ints[1], 1)
            case 3: (start, stop, step) = (ints[0], ints[1], ints[2])
            default: throw JinjaError.runtime(message: "range expected 1 to 3 arguments, got \(ints.count)")
            }
            guard step != 0 else { throw JinjaError.runtime(message: "range() arg 3 must not be zero") }
            let (span, overflow) = step > 0 ? stop.subtractingReportingOverflow(start) : start.subtractingReportingOverflow(stop)
            if overflow { throw JinjaError.limitExceeded(what: "list size", limit: limits.maxCollectionSize) }
            let magnitude = Int(clamping: step.magnitude)
            let count = span <= 0 ? 0 : (span - 1) / magnitude + 1
            try checkCount(count)
            try checkCount(count)
            return .array((0..<count).map { .int(start + $0 * step) })
        case "strftime_now":
            guard let format = positional.first?.stringValue else {
                throw JinjaError.type(operation: "strftime_now", message: "expected a format string")
            }
            return .string(Interpreter.strftimeNow(format))
        case "joiner":
            let sep = positional.first?.pythonString ?? ", "
            let state = JoinerState()
            return .callable(JinjaCallable(name: "joiner") { _, _ in
                .string(state.next() ? "" : sep)
            })
        case "cycler":
            let items = positional
            let state = JoinerState()
            var obj = JinjaObject()
            obj["next"] = .callable(JinjaCallable(name: "next") { _, _ in
                guard !items.isEmpty else { return .none }
                return items[state.advance() % items.count]
            })
            return .object(obj)
        default:
            throw JinjaError.undefined(name: name)
        }
    }

    static func strftimeNow(_ format: String) -> String {
        var t = time(nil)
        var tmValue = tm()
        localtime_r(&t, &tmValue)
        var buffer = [Int8](repeating: 0, count: 512)
        let n = strftime(&buffer, buffer.count, format, &tmValue)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Mutable state for `joiner()`/`cycler()` (rendering is single-threaded).
final class JoinerState: @unchecked Sendable {
    private let lock = NSLock()
    private var used = false
    private var index = 0

    /// Returns true the first time it is called.
    func next() -> Bool {
        lock.lock(); defer { lock.unlock() }
        let first = !used
        used = true
        return first
    }

    func advance() -> Int {
        lock.lock(); defer { lock.unlock() }
        let i = index
        index += 1
        return i
    }
}

/// Expression syntax tree.
indirect enum Expr: Sendable {
    case literal(JinjaValue)
    case name(String)
    case list([Expr])
    case tuple([Expr])
    case dict([(key: Expr, value: Expr)])
    /// `a.b`
    case attribute(Expr, String)
    /// `a[b]`
    case index(Expr, Expr)
    /// `a[start:stop:step]`
    case slice(Expr, start: Expr?, stop: Expr?, step: Expr?)
    /// `f(args)`
    case call(Expr, [Argument])
    /// `value | name(args)`
    case filter(Expr, name: String, [Argument])
    /// `value is [not] name(args)`
    case test(Expr, name: String, [Argument], negated: Bool)
    case unary(UnaryOp, Expr)
    case binary(BinaryOp, Expr, Expr)
    case and(Expr, Expr)
    case or(Expr, Expr)
    case not(Expr)
    /// `a if cond else b` (`else` part optional)
    case conditional(condition: Expr, then: Expr, otherwise: Expr?)

    enum UnaryOp: Sendable { case minus, plus }

    enum BinaryOp: String, Sendable {
        case add = "+", sub = "-", mul = "*", div = "/", floorDiv = "//", mod = "%", pow = "**"
        case concat = "~"
        case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">="
        case `in` = "in", notIn = "not in"
    }

    /// A call argument: positional when `name` is nil.
    struct Argument: Sendable {
        var name: String?
        var value: Expr
    }

    /// A short human-readable rendering of the expression, for error messages.
    var shortDescription: String {
        switch self {
        case .name(let n): return n
        case .attribute(let base, let attr): return "\(base.shortDescription).\(attr)"
        case .index(let base, _): return "\(base.shortDescription)[...]"
        case .call(let f, _): return "\(f.shortDescription)(...)"
        case .literal(let v): return v.pythonRepr
        default: return "expression"
        }
    }
}

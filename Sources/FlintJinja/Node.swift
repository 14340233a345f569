/// Statement syntax tree: the body of a template is a list of nodes.
indirect enum Node: Sendable {
    case text(String)
    /// `{{ expr }}`
    case output(Expr)
    /// `{% if %}...{% elif %}...{% else %}...{% endif %}`
    case ifBlock(branches: [(condition: Expr, body: [Node])], otherwise: [Node]?)
    /// `{% for target in iterable [if filter] %}...{% else %}...{% endfor %}`
    case forLoop(ForLoop)
    /// `{% set target = expr %}`
    case set(target: AssignTarget, value: Expr)
    /// `{% set name %}...{% endset %}` with optional filters
    case setBlock(target: AssignTarget, filters: [FilterCall], body: [Node])
    /// `{% macro %}` definition
    case macro(MacroDefinition)
    /// `{% call(params) macro(args) %}...{% endcall %}`
    case callBlock(call: Expr, caller: MacroDefinition)
    /// `{% filter name(args) %}...{% endfilter %}`
    case filterBlock(filters: [FilterCall], body: [Node])
    /// `{% with a = 1 %}...{% endwith %}`
    case with(assignments: [(target: AssignTarget, value: Expr)], body: [Node])
    /// `{% generation %}...{% endgeneration %}` (Hugging Face extension)
    case generation([Node])
    case breakLoop(line: Int)
    case continueLoop(line: Int)

    struct ForLoop: Sendable {
        var target: AssignTarget
        var iterable: Expr
        var filter: Expr?
        var body: [Node]
        var otherwise: [Node]?
        var recursive: Bool
    }

    struct FilterCall: Sendable {
        var name: String
        var arguments: [Expr.Argument]
    }
}

/// The left-hand side of an assignment or loop variable.
indirect enum AssignTarget: Sendable {
    case name(String)
    /// `ns.attr`
    case attribute(String, String)
    /// `a, b`
    case tuple([AssignTarget])
}

/// A `{% macro %}` (or the implicit `caller` of a `{% call %}` block).
struct MacroDefinition: Sendable {
    var name: String
    var parameters: [(name: String, defaultValue: Expr?)]
    var body: [Node]
}

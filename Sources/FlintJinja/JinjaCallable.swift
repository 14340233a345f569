/// Something a template can call: a `{% macro %}`, a built-in global such as
/// `namespace` or `range`, or a Swift function supplied by the host.
public struct JinjaCallable: Sendable {
    /// Host function signature: positional arguments and keyword arguments (in call order).
    public typealias Function = @Sendable (_ positional: [JinjaValue], _ keywords: [(String, JinjaValue)]) throws -> JinjaValue

    enum Kind: Sendable {
        case macro(MacroDefinition)
        case builtin(String)
        case function(Function)
    }

    let kind: Kind
    public let name: String

    init(macro: MacroDefinition) {
        self.kind = .macro(macro)
        self.name = macro.name
    }

    init(builtin name: String) {
        self.kind = .builtin(name)
        self.name = name
    }

    /// Wraps a Swift function so a template can call it, e.g. as a context
    /// variable `strftime_now`.
    public init(name: String, _ function: @escaping Function) {
        self.kind = .function(function)
        self.name = name
    }
}

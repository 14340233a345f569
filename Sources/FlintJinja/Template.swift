/// A parsed Jinja2 template, rendered with the settings Hugging Face uses for
/// chat templates: `trim_blocks=True`, `lstrip_blocks=True`, a `tojson` that
/// matches Python's `json.dumps(ensure_ascii=False)`, and the
/// `raise_exception` global.
///
/// Parsing happens once in `init`; `render` can be called any number of
/// times, from any thread.
public struct Template: Sendable {
    let nodes: [Node]
    /// Safety limits used by `render`.
    public var limits: RenderLimits

    /// Parses `source`. Throws `JinjaError.syntax` / `.unknownTag` (with a line
    /// number) when the template is malformed.
    public init(_ source: String, limits: RenderLimits = RenderLimits()) throws {
        self.nodes = try Parser.parse(source)
        self.limits = limits
    }

    /// Renders with the given variables. Built-in globals (`range`,
    /// `namespace`, `dict`, `raise_exception`, `strftime_now`, `joiner`,
    /// `cycler`) are available unless shadowed by `context`.
    public func render(_ context: [String: JinjaValue]) throws -> String {
        let interpreter = Interpreter(context: context, limits: limits)
        return try interpreter.render(nodes)
    }

    /// Renders with an ordered object as the context.
    public func render(_ context: JinjaObject) throws -> String {
        var dict: [String: JinjaValue] = [:]
        for (k, v) in context { dict[k] = v }
        return try render(dict)
    }
}

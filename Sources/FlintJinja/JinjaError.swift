/// Every failure the template engine can report. Parsing and rendering never
/// trap on user input; they throw one of these instead.
public enum JinjaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The template source could not be tokenized or parsed.
    case syntax(message: String, line: Int)
    /// A `{% tag %}` that this engine does not know.
    case unknownTag(name: String, line: Int)
    /// A `|filter` that does not exist.
    case unknownFilter(name: String)
    /// An `is test` that does not exist.
    case unknownTest(name: String)
    /// The template called `raise_exception(message)`.
    case raised(message: String)
    /// An operation was applied to values of the wrong type.
    case type(operation: String, message: String)
    /// A name was used in a way that needs a value (called, iterated with
    /// operators ...) but it is undefined.
    case undefined(name: String)
    /// Any other runtime failure (bad argument, division by zero, ...).
    case runtime(message: String)
    /// A safety limit (output size, loop iterations, nesting depth) was exceeded.
    case limitExceeded(what: String, limit: Int)

    public var description: String {
        switch self {
        case let .syntax(message, line):
            return "Template syntax error on line \(line): \(message)"
        case let .unknownTag(name, line):
            return "Template syntax error on line \(line): unknown tag '\(name)'"
        case let .unknownFilter(name):
            return "Unknown filter '\(name)'"
        case let .unknownTest(name):
            return "Unknown test '\(name)'"
        case let .raised(message):
            return message
        case let .type(operation, message):
            return "Type error in \(operation): \(message)"
        case let .undefined(name):
            return "'\(name)' is undefined"
        case let .runtime(message):
            return "Template error: \(message)"
        case let .limitExceeded(what, limit):
            return "Template limit exceeded: \(what) (limit \(limit))"
        }
    }
}

/// One lexical unit of a template.
struct Token: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// Raw template text outside of any tag (already whitespace-processed).
        case text(String)
        /// `{{`
        case variableBegin
        /// `}}`
        case variableEnd
        /// `{%`
        case blockBegin
        /// `%}`
        case blockEnd
        case name(String)
        case string(String)
        case integer(Int)
        case float(Double)
        /// Operators and punctuation: `+ - * / // % ** ~ == != < <= > >= = ( ) [ ] { } , . : |`
        case op(String)
        case eof
    }

    var kind: Kind
    var line: Int

    init(_ kind: Kind, line: Int) {
        self.kind = kind
        self.line = line
    }
}

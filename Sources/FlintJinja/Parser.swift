/// Recursive-descent parser producing the template AST, following Jinja2's
/// grammar and operator precedence.
struct Parser {
    static let maxNesting = 100
    /// Maximum number of operands/postfix operations in one tag: bounds the
    /// depth of left-leaning expression trees (`a + b + c + ...`).
    static let maxExpressionNodes = 2000

    private var tokens: [Token]
    private var pos = 0
    private var nesting = 0
    private var expressionNodes = 0
    private var loopDepth = 0

    init(tokens: [Token]) {
        self.tokens = tokens
    }

    static func parse(_ source: String) throws -> [Node] {
        var parser = Parser(tokens: try Lexer.tokenize(source))
        let (nodes, end) = try parser.parseNodes(until: [])
        if let end {
            throw JinjaError.syntax(message: "unexpected '\(end)'", line: parser.current.line)
        }
        return nodes
    }

    // MARK: - Token helpers

    private var current: Token { tokens[min(pos, tokens.count - 1)] }
    private func peekToken(_ offset: Int) -> Token { tokens[min(pos + offset, tokens.count - 1)] }

    private mutating func next() -> Token {
        let t = current
        if pos < tokens.count - 1 { pos += 1 }
        return t
    }

    private func isOp(_ op: String, _ token: Token? = nil) -> Bool {
        if case .op(let o) = (token ?? current).kind { return o == op }
        return false
    }

    private func isName(_ name: String, _ token: Token? = nil) -> Bool {
        if case .name(let n) = (token ?? current).kind { return n == name }
        return false
    }

    private mutating func skipOp(_ op: String) -> Bool {
        if isOp(op) { pos += 1; return true }
        return false
    }

    private mutating func skipName(_ name: String) -> Bool {
        if isName(name) { pos += 1; return true }
        return false
    }

    private func describe(_ token: Token) -> String {
        switch token.kind {
        case .text: return "template text"
        case .variableBegin: return "'{{'"
        case .variableEnd: return "'}}'"
        case .blockBegin: return "'{%'"
        case .blockEnd: return "'%}'"
        case .name(let n): return "'\(n)'"
        case .string(let s): return "string '\(s)'"
        case .integer(let i): return "integer \(i)"
        case .float(let d): return "float \(d)"
        case .op(let o): return "'\(o)'"
        case .eof: return "end of template"
        }
    }

    private func syntaxError(_ message: String) -> JinjaError {
        .syntax(message: message, line: current.line)
    }

    private mutating func expectOp(_ op: String) throws {
        guard skipOp(op) else { throw syntaxError("expected '\(op)', got \(describe(current))") }
    }

    private mutating func expectName() throws -> String {
        if case .name(let n) = current.kind { pos += 1; return n }
        throw syntaxError("expected a name, got \(describe(current))")
    }

    private mutating func expectBlockEnd() throws {
        guard case .blockEnd = current.kind else {
            throw syntaxError("expected end of statement block '%}', got \(describe(current))")
        }
        pos += 1
    }

    private mutating func enter() throws {
        nesting += 1
        if nesting > Parser.maxNesting {
            throw JinjaError.limitExceeded(what: "template nesting depth on line \(current.line)", limit: Parser.maxNesting)
        }
    }

    private mutating func leave() { nesting -= 1 }

    private mutating func countNode() throws {
        expressionNodes += 1
        if expressionNodes > Parser.maxExpressionNodes {
            throw JinjaError.limitExceeded(what: "expression size on line \(current.line)", limit: Parser.maxExpressionNodes)
        }
    }

    // MARK: - Statements

    /// Parses nodes until a `{% tag %}` whose name is in `endTags` (returned,
    /// with the position just after the tag name) or end of input.
    private mutating func parseNodes(until endTags: Set<String>) throws -> ([Node], String?) {
        var nodes: [Node] = []
        while true {
            let token = current
            switch token.kind {
            case .eof:
                if !endTags.isEmpty {
                    let expected = endTags.sorted().map { "'\($0)'" }.joined(separator: " or ")
                    throw JinjaError.syntax(message: "unexpected end of template, expected \(expected)", line: token.line)
                }
                return (nodes, nil)
            case .text(let s):
                pos += 1
                nodes.append(.text(s))
            case .variableBegin:
                pos += 1
                expressionNodes = 0
                let e = try parseTuple()
                guard case .variableEnd = current.kind else {
                    throw syntaxError("expected end of print statement '}}', got \(describe(current))")
                }
                pos += 1
                nodes.append(.output(e))
            case .blockBegin:
                pos += 1
                expressionNodes = 0
                guard case .name(let tag) = current.kind else {
                    throw syntaxError("expected a tag name, got \(describe(current))")
                }
                if endTags.contains(tag) {
                    pos += 1
                    return (nodes, tag)
                }
                nodes.append(try parseStatement())
            default:
                throw syntaxError("unexpected \(describe(token))")
            }
        }
    }

    private mutating func parseStatement() throws -> Node {
        let tagToken = next()
        guard case .name(let tag) = tagToken.kind else { throw syntaxError("expected a tag name") }
        try enter()
        defer { leave() }
        switch tag {
        case "if": return try parseIf()
        case "for": return try parseFor()
        case "set": return try parseSet()
        case "macro": return try parseMacro()
        case "call": return try parseCallBlock()
        case "filter": return try parseFilterBlock()
        case "with": return try parseWith()
        case "generation":
            try expectBlockEnd()
            let (body, _) = try parseNodes(until: ["endgeneration"])
            try expectBlockEnd()
            return .generation(body)
        case "break", "continue":
            guard loopDepth > 0 else {
                throw JinjaError.syntax(message: "'\(tag)' outside of a loop", line: tagToken.line)
            }
            try expectBlockEnd()
            return tag == "break" ? .breakLoop(line: tagToken.line) : .continueLoop(line: tagToken.line)
        default:
            if tag.hasPrefix("end") || tag == "elif" || tag == "else" {
                throw JinjaError.syntax(message: "unexpected '\(tag)'", line: tagToken.line)
            }
            throw JinjaError.unknownTag(name: tag, line: tagToken.line)
        }
    }

    private mutating func parseIf() throws -> Node {
        var branches: [(condition: Expr, body: [Node])] = []
        var otherwise: [Node]? = nil
        var condition = try parseExpression()
        try expectBlockEnd()
        while true {
            let (body, end) = try parseNodes(until: ["elif", "else", "endif"])
            branches.append((condition, body))
            if end == "elif" {
                condition = try parseExpression()
                try expectBlockEnd()
                continue
            }
            if end == "else" {
                try expectBlockEnd()
                let (elseBody, _) = try parseNodes(until: ["endif"])
                otherwise = elseBody
            }
            try expectBlockEnd()
            break
        }
        return .ifBlock(branches: branches, otherwise: otherwise)
    }

    private mutating func parseFor() throws -> Node {
        let target = try parseAssignTarget(allowAttribute: false)
        guard skipName("in") else { throw syntaxError("expected 'in', got \(describe(current))") }
        let iterable = try parseTuple(withCondition: false, extraEnd: ["recursive", "if"])
        var filter: Expr? = nil
        if skipName("if") { filter = try parseExpression() }
        let recursive = skipName("recursive")
        try expectBlockEnd()
        loopDepth += 1
        let (body, end) = try parseNodes(until: ["endfor", "else"])
        loopDepth -= 1
        var otherwise: [Node]? = nil
        if end == "else" {
            try expectBlockEnd()
            let (elseBody, _) = try parseNodes(until: ["endfor"])
            otherwise = elseBody
        }
        try expectBlockEnd()
        return .forLoop(Node.ForLoop(target: target, iterable: iterable, filter: filter, body: body,
                                     otherwise: otherwise, recursive: recursive))
    }

    private mutating func parseSet() throws -> Node {
        let target = try parseAssignTarget(allowAttribute: true)
        if skipOp("=") {
            let value = try parseTuple()
            try expectBlockEnd()
            return .set(target: target, value: value)
        }
        var filters: [Node.FilterCall] = []
        while skipOp("|") { filters.append(try parseFilterCall()) }
        try expectBlockEnd()
        let (body, _) = try parseNodes(until: ["endset"])
        try expectBlockEnd()
        return .setBlock(target: target, filters: filters, body: body)
    }

    private mutating func parseFilterCall() throws -> Node.FilterCall {
        var name = try expectName()
        while isOp("."), case .name(let more) = peekToken(1).kind {
            pos += 2
            name += "." + more
        }
        var args: [Expr.Argument] = []
        if isOp("(") { args = try parseCallArguments() }
        return Node.FilterCall(name: name, arguments: args)
    }

    private mutating func parseMacroSignature(name: String) throws -> [(name: String, defaultValue: Expr?)] {
        var params: [(name: String, defaultValue: Expr?)] = []
        try expectOp("(")
        while !isOp(")") {
            if !params.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            let p = try expectName()
            var def: Expr? = nil
            if skipOp("=") { def = try parseExpression() }
            else if params.contains(where: { $0.defaultValue != nil }) {
                throw syntaxError("non-default argument '\(p)' follows default argument in '\(name)'")
            }
            params.append((p, def))
        }
        try expectOp(")")
        return params
    }

    private mutating func parseMacro() throws -> Node {
        let name = try expectName()
        let params = try parseMacroSignature(name: name)
        try expectBlockEnd()
        let savedLoop = loopDepth
        loopDepth = 0
        let (body, _) = try parseNodes(until: ["endmacro"])
        loopDepth = savedLoop
        if case .name = current.kind { pos += 1 }
        try expectBlockEnd()
        return .macro(MacroDefinition(name: name, parameters: params, body: body))
    }

    private mutating func parseCallBlock() throws -> Node {
        var params: [(name: String, defaultValue: Expr?)] = []
        if isOp("(") { params = try parseMacroSignature(name: "caller") }
        let call = try parseExpression()
        guard case .call = call else { throw syntaxError("expected a call after 'call'") }
        try expectBlockEnd()
        let savedLoop = loopDepth
        loopDepth = 0
        let (body, _) = try parseNodes(until: ["endcall"])
        loopDepth = savedLoop
        try expectBlockEnd()
        return .callBlock(call: call, caller: MacroDefinition(name: "caller", parameters: params, body: body))
    }

    private mutating func parseFilterBlock() throws -> Node {
        var filters = [try parseFilterCall()]
        while skipOp("|") { filters.append(try parseFilterCall()) }
        try expectBlockEnd()
        let (body, _) = try parseNodes(until: ["endfilter"])
        try expectBlockEnd()
        return .filterBlock(filters: filters, body: body)
    }

    private mutating func parseWith() throws -> Node {
        var assignments: [(target: AssignTarget, value: Expr)] = []
        while case .name = current.kind {
            if !assignments.isEmpty { try expectOp(",") }
            let target = try parseAssignTarget(allowAttribute: false)
            try expectOp("=")
            assignments.append((target, try parseExpression()))
            if !isOp(",") { break }
            pos += 1
        }
        try expectBlockEnd()
        let (body, _) = try parseNodes(until: ["endwith"])
        try expectBlockEnd()
        return .with(assignments: assignments, body: body)
    }

    private mutating func parseAssignTarget(allowAttribute: Bool) throws -> AssignTarget {
        func single() throws -> AssignTarget {
            if skipOp("(") {
                let t = try parseAssignTarget(allowAttribute: false)
                try expectOp(")")
                return t
            }
            let name = try expectName()
            if allowAttribute && isOp(".") {
                pos += 1
                let attr = try expectName()
                return .attribute(name, attr)
            }
            return .name(name)
        }
        let first = try single()
        guard isOp(",") else { return first }
        var items = [first]
        while skipOp(",") {
            if case .name = current.kind { items.append(try single()) }
            else if isOp("(") { items.append(try single()) }
            else { break }
        }
        return .tuple(items)
    }

    // MARK: - Expressions

    private func isTupleEnd(_ extraEnd: Set<String>) -> Bool {
        switch current.kind {
        case .variableEnd, .blockEnd, .eof: return true
        case .op(let o): return o == ")" || o == "]" || o == "}"
        case .name(let n): return extraEnd.contains(n)
        default: return false
        }
    }

    /// Comma-separated expressions; more than one (or a trailing comma) forms a tuple.
    private mutating func parseTuple(withCondition: Bool = true, extraEnd: Set<String> = []) throws -> Expr {
        var items: [Expr] = []
        var sawComma = false
        while true {
            if !items.isEmpty {
                guard skipOp(",") else { break }
                sawComma = true
                if isTupleEnd(extraEnd) { break }
            }
            items.append(withCondition ? try parseExpression() : try parseOr())
            if !isOp(",") { break }
        }
        if items.count == 1 && !sawComma { return items[0] }
        return .tuple(items)
    }

    mutating func parseExpression() throws -> Expr {
        try enter()
        defer { leave() }
        var expr = try parseOr()
        while skipName("if") {
            let condition = try parseOr()
            var otherwise: Expr? = nil
            if skipName("else") { otherwise = try parseExpression() }
            expr = .conditional(condition: condition, then: expr, otherwise: otherwise)
        }
        return expr
    }

    private mutating func parseOr() throws -> Expr {
        var left = try parseAnd()
        while skipName("or") { left = .or(left, try parseAnd()) }
        return left
    }

    private mutating func parseAnd() throws -> Expr {
        var left = try parseNot()
        while skipName("and") { left = .and(left, try parseNot()) }
        return left
    }

    private mutating func parseNot() throws -> Expr {
        if skipName("not") {
            try enter()
            defer { leave() }
            return .not(try parseNot())
        }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> Expr {
        var left = try parseMath1()
        while true {
            if case .op(let o) = current.kind, let op = Expr.BinaryOp(rawValue: o),
               ["==", "!=", "<", "<=", ">", ">="].contains(o) {
                pos += 1
                left = .binary(op, left, try parseMath1())
            } else if skipName("in") {
                left = .binary(.in, left, try parseMath1())
            } else if isName("not") && isName("in", peekToken(1)) {
                pos += 2
                left = .binary(.notIn, left, try parseMath1())
            } else {
                return left
            }
        }
    }

    private mutating func parseMath1() throws -> Expr {
        var left = try parseConcat()
        while true {
            if skipOp("+") { left = .binary(.add, left, try parseConcat()) }
            else if skipOp("-") { left = .binary(.sub, left, try parseConcat()) }
            else { return left }
        }
    }

    private mutating func parseConcat() throws -> Expr {
        var left = try parseMath2()
        while skipOp("~") { left = .binary(.concat, left, try parseMath2()) }
        return left
    }

    private mutating func parseMath2() throws -> Expr {
        var left = try parsePow()
        while true {
            if skipOp("*") { left = .binary(.mul, left, try parsePow()) }
            else if skipOp("/") { left = .binary(.div, left, try parsePow()) }
            else if skipOp("//") { left = .binary(.floorDiv, left, try parsePow()) }
            else if skipOp("%") { left = .binary(.mod, left, try parsePow()) }
            else { return left }
        }
    }

    private mutating func parsePow() throws -> Expr {
        var left = try parseUnary(withFilter: true)
        while skipOp("**") { left = .binary(.pow, left, try parseUnary(withFilter: true)) }
        return left
    }

    private mutating func parseUnary(withFilter: Bool) throws -> Expr {
        try countNode()
        try enter()
        defer { leave() }
        var node: Expr
        if skipOp("-") {
            node = .unary(.minus, try parseUnary(withFilter: false))
        } else if skipOp("+") {
            node = .unary(.plus, try parseUnary(withFilter: false))
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node)
        if withFilter { node = try parseFilterExpr(node) }
        return node
    }

    private mutating func parsePrimary() throws -> Expr {
        let token = next()
        switch token.kind {
        case .name(let n):
            switch n {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(n)
            }
        case .string(var s):
            while case .string(let more) = current.kind {
                s += more
                pos += 1
            }
            return .literal(.string(s))
        case .integer(let i): return .literal(.int(i))
        case .float(let d): return .literal(.double(d))
        case .op("("):
            try enter()
            defer { leave() }
            if skipOp(")") { return .tuple([]) }
            let e = try parseTuple()
            try expectOp(")")
            return e
        case .op("["):
            try enter()
            defer { leave() }
            var items: [Expr] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("]") { break }
                items.append(try parseExpression())
            }
            try expectOp("]")
            return .list(items)
        case .op("{"):
            try enter()
            defer { leave() }
            var items: [(key: Expr, value: Expr)] = []
            while !isOp("}") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("}") { break }
                let key = try parseExpression()
                try expectOp(":")
                items.append((key, try parseExpression()))
            }
            try expectOp("}")
            return .dict(items)
        default:
            throw JinjaError.syntax(message: "unexpected \(describe(token))", line: token.line)
        }
    }

    private mutating func parsePostfix(_ start: Expr) throws -> Expr {
        var node = start
        while true {
            if isOp(".") || isOp("[") || isOp("(") { try countNode() }
            if isOp(".") {
                pos += 1
                let t = next()
                switch t.kind {
                case .name(let n): node = .attribute(node, n)
                case .integer(let i): node = .index(node, .literal(.int(i)))
                default: throw JinjaError.syntax(message: "expected name or number after '.'", line: t.line)
                }
            } else if isOp("[") {
                pos += 1
                node = try parseSubscript(node)
            } else if isOp("(") {
                node = .call(node, try parseCallArguments())
            } else {
                return node
            }
        }
    }

    private mutating func parseSubscript(_ base: Expr) throws -> Expr {
        var parts: [Expr?] = []
        var current: Expr? = nil
        var isSlice = false
        while !isOp("]") {
            if skipOp(":") {
                isSlice = true
                parts.append(current)
                current = nil
                continue
            }
            if current != nil { throw syntaxError("expected ']' or ':' in subscript") }
            current = try parseExpression()
        }
        try expectOp("]")
        if !isSlice {
            guard let index = current else { throw syntaxError("empty subscript") }
            return .index(base, index)
        }
        parts.append(current)
        guard parts.count <= 3 else { throw syntaxError("too many ':' in slice") }
        while parts.count < 3 { parts.append(nil) }
        return .slice(base, start: parts[0], stop: parts[1], step: parts[2])
    }

    private mutating func parseCallArguments() throws -> [Expr.Argument] {
        try expectOp("(")
        try enter()
        defer { leave() }
        var args: [Expr.Argument] = []
        while !isOp(")") {
            if !args.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            if isOp("*") || isOp("**") { throw syntaxError("'*args' and '**kwargs' in calls are not supported") }
            if case .name(let n) = current.kind, isOp("=", peekToken(1)) {
                pos += 2
                args.append(Expr.Argument(name: n, value: try parseExpression()))
            } else {
                if args.contains(where: { $0.name != nil }) {
                    throw syntaxError("positional argument follows keyword argument")
                }
                args.append(Expr.Argument(name: nil, value: try parseExpression()))
            }
        }
        try expectOp(")")
        return args
    }

    private mutating func parseFilterExpr(_ start: Expr) throws -> Expr {
        var node = start
        while true {
            if isOp("|") || isName("is") || isOp("(") { try countNode() }
            if skipOp("|") {
                let f = try parseFilterCall()
                node = .filter(node, name: f.name, f.arguments)
            } else if skipName("is") {
                let negated = skipName("not")
                var name = try expectName()
                while isOp("."), case .name(let more) = peekToken(1).kind {
                    pos += 2
                    name += "." + more
                }
                var args: [Expr.Argument] = []
                if isOp("(") {
                    args = try parseCallArguments()
                } else {
                    switch current.kind {
                    case .name(let n) where !["else", "or", "and"].contains(n):
                        fallthrough
                    case .string, .integer, .float, .op("["), .op("{"):
                        let arg = try parsePostfix(try parsePrimary())
                        args = [Expr.Argument(name: nil, value: arg)]
                    default:
                        break
                    }
                }
                node = .test(node, name: name, args, negated: negated)
            } else if isOp("(") {
                node = .call(node, try parseCallArguments())
            } else {
                return node
            }
        }
    }
}

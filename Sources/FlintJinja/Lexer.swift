/// Turns template source into tokens, applying Jinja2's whitespace rules
/// (`trim_blocks`, `lstrip_blocks`, `-`/`+` modifiers, trailing newline removal)
/// while splitting text from tags, exactly as Jinja2's lexer does.
struct Lexer {
    struct Options: Sendable {
        var trimBlocks = true
        var lstripBlocks = true
        var keepTrailingNewline = false
    }

    private let src: [Unicode.Scalar]
    private let options: Options
    private var pos = 0
    private var line = 1
    private var tokens: [Token] = []
    /// Whether the last consumed piece of template ended with a newline; at
    /// the very start of the template it is true (Jinja's `line_starting`).
    private var lineStarting = true

    init(_ source: String, options: Options = Options()) {
        var normalized = String.UnicodeScalarView()
        var it = source.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = it.next()
        while let c = pending {
            pending = it.next()
            if c == "\r" {
                normalized.append("\n")
                if pending == "\n" { pending = it.next() }
            } else {
                normalized.append(c)
            }
        }
        var scalars = Array(normalized)
        if !options.keepTrailingNewline, scalars.last == "\n" { scalars.removeLast() }
        self.src = scalars
        self.options = options
    }

    static func tokenize(_ source: String, options: Options = Options()) throws -> [Token] {
        var lexer = Lexer(source, options: options)
        return try lexer.run()
    }

    // MARK: - Helpers

    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        let i = pos + offset
        return i >= 0 && i < src.count ? src[i] : nil
    }

    private static func isPyWhitespace(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case " ", "\t", "\n", "\r", "\u{0B}", "\u{0C}": return true
        default: return c.value > 127 && c.properties.isWhitespace
        }
    }

    private static func isInlineSpace(_ c: Unicode.Scalar) -> Bool {
        isPyWhitespace(c) && c != "\n"
    }

    private func makeString(_ slice: ArraySlice<Unicode.Scalar>) -> String {
        var v = String.UnicodeScalarView()
        v.append(contentsOf: slice)
        return String(v)
    }

    private mutating func advance(_ n: Int = 1) {
        for _ in 0..<n where pos < src.count {
            if src[pos] == "\n" { line += 1 }
            pos += 1
        }
    }

    /// Skips whitespace (including newlines) after a `-%}` style tag end.
    private mutating func skipWhitespace() {
        while let c = peek(), Lexer.isPyWhitespace(c) { advance() }
    }

    /// Finds the next `{{`, `{%` or `{#` at or after `from`.
    private func nextTagStart(from: Int) -> Int? {
        var i = from
        while i + 1 < src.count {
            if src[i] == "{" {
                let n = src[i + 1]
                if n == "{" || n == "%" || n == "#" { return i }
            }
            i += 1
        }
        return nil
    }

    /// Applies `-` (strip all trailing whitespace) or `lstrip_blocks` to the
    /// text that precedes a tag, then emits it.
    private mutating func emitText(_ slice: ArraySlice<Unicode.Scalar>, modifier: Unicode.Scalar?, lstripEligible: Bool, line textLine: Int) {
        var text = slice
        if modifier == "-" {
            while let last = text.last, Lexer.isPyWhitespace(last) { text.removeLast() }
        } else if modifier != "+" && lstripEligible && options.lstripBlocks {
            var lpos = text.startIndex
            if let nl = text.lastIndex(of: "\n") { lpos = nl + 1 }
            if lpos > text.startIndex || lineStarting {
                if text[lpos...].allSatisfy(Lexer.isInlineSpace) {
                    text = text[..<lpos]
                }
            }
        }
        if !text.isEmpty { tokens.append(Token(.text(makeString(text)), line: textLine)) }
    }

    // MARK: - Main loop

    private mutating func run() throws -> [Token] {
        while pos < src.count {
            let textStart = pos
            let textLine = line
            guard let tagStart = nextTagStart(from: pos) else {
                tokens.append(Token(.text(makeString(src[pos...])), line: line))
                advance(src.count - pos)
                break
            }
            let kind = src[tagStart + 1]
            let modifierCandidate = tagStart + 2 < src.count ? src[tagStart + 2] : nil
            let modifier: Unicode.Scalar? = (modifierCandidate == "-" || modifierCandidate == "+") ? modifierCandidate : nil
            let textSlice = src[textStart..<tagStart]
            advance(tagStart - pos)

            switch kind {
            case "#":
                emitText(textSlice, modifier: modifier, lstripEligible: true, line: textLine)
                try lexComment()
            case "%":
                if let rawEnd = matchRawBegin(at: tagStart) {
                    emitText(textSlice, modifier: modifier, lstripEligible: true, line: textLine)
                    try lexRaw(beginTagEnd: rawEnd)
                } else {
                    emitText(textSlice, modifier: modifier, lstripEligible: true, line: textLine)
                    tokens.append(Token(.blockBegin, line: line))
                    advance(modifier == nil ? 2 : 3)
                    try lexTagContents(isBlock: true)
                }
            default:
                emitText(textSlice, modifier: modifier, lstripEligible: false, line: textLine)
                tokens.append(Token(.variableBegin, line: line))
                advance(modifier == nil ? 2 : 3)
                try lexTagContents(isBlock: false)
            }
        }
        tokens.append(Token(.eof, line: line))
        return tokens
    }

    /// Consumes the end of a block-like tag at `pos` (which points at `-`, `+`
    /// or the closing `%`/`#`), applying trim rules.
    private mutating func finishBlockEnd(closer: Unicode.Scalar) {
        // pos points at modifier or closer
        var mod: Unicode.Scalar? = nil
        if peek() == "-" || peek() == "+" {
            mod = peek()
            advance()
        }
        advance(2) // the closer and '}'
        var endedWithNewline = false
        if mod == "-" {
            let before = pos
            skipWhitespace()
            endedWithNewline = pos > before && src[pos - 1] == "\n"
        } else if mod == nil && options.trimBlocks && peek() == "\n" {
            advance()
            endedWithNewline = true
        }
        _ = closer
        lineStarting = endedWithNewline
    }

    private mutating func lexComment() throws {
        let startLine = line
        advance(2)
        if peek() == "-" || peek() == "+" { advance() }
        while pos < src.count {
            if src[pos] == "#" && peek(1) == "}" {
                finishBlockEnd(closer: "#")
                return
            }
            if (src[pos] == "-" || src[pos] == "+") && peek(1) == "#" && peek(2) == "}" {
                finishBlockEnd(closer: "#")
                return
            }
            advance()
        }
        throw JinjaError.syntax(message: "missing end of comment tag", line: startLine)
    }

    /// If a `{% raw %}` tag starts at `start`, returns the index just after it
    /// (before any whitespace handling) and whether it ended with `-%}`.
    private func matchRawBegin(at start: Int) -> (end: Int, strip: Bool)? {
        var i = start + 2
        if i < src.count && (src[i] == "-" || src[i] == "+") { i += 1 }
        while i < src.count && Lexer.isPyWhitespace(src[i]) { i += 1 }
        let word: [Unicode.Scalar] = ["r", "a", "w"]
        guard i + 3 <= src.count, Array(src[i..<(i + 3)]) == word else { return nil }
        i += 3
        while i < src.count && Lexer.isPyWhitespace(src[i]) { i += 1 }
        if i + 2 < src.count, src[i] == "-", src[i + 1] == "%", src[i + 2] == "}" {
            return (i + 3, true)
        }
        if i + 1 < src.count, src[i] == "%", src[i + 1] == "}" { return (i + 2, false) }
        return nil
    }

    private mutating func lexRaw(beginTagEnd: (end: Int, strip: Bool)) throws {
        let startLine = line
        advance(beginTagEnd.end - pos)
        lineStarting = false
        if beginTagEnd.strip {
            let before = pos
            skipWhitespace()
            lineStarting = pos > before && src[pos - 1] == "\n"
        }
        // Search for {% endraw %}.
        var i = pos
        while i + 1 < src.count {
            if src[i] == "{" && src[i + 1] == "%" {
                var j = i + 2
                var mod: Unicode.Scalar? = nil
                if j < src.count && (src[j] == "-" || src[j] == "+") { mod = src[j]; j += 1 }
                while j < src.count && Lexer.isPyWhitespace(src[j]) { j += 1 }
                let word: [Unicode.Scalar] = ["e", "n", "d", "r", "a", "w"]
                if j + 6 <= src.count, Array(src[j..<(j + 6)]) == word {
                    j += 6
                    while j < src.count && Lexer.isPyWhitespace(src[j]) { j += 1 }
                    let closesHere = (j + 1 < src.count && src[j] == "%" && src[j + 1] == "}")
                        || (j + 2 < src.count && (src[j] == "-" || src[j] == "+") && src[j + 1] == "%" && src[j + 2] == "}")
                    if closesHere {
                        let textLine = line
                        emitText(src[pos..<i], modifier: mod, lstripEligible: true, line: textLine)
                        advance(j - pos)
                        finishBlockEnd(closer: "%")
                        return
                    }
                }
            }
            i += 1
        }
        throw JinjaError.syntax(message: "missing end of raw directive", line: startLine)
    }

    // MARK: - Inside tags

    private mutating func lexTagContents(isBlock: Bool) throws {
        let startLine = line
        var brackets: [Unicode.Scalar] = []
        while true {
            guard let c = peek() else {
                throw JinjaError.syntax(message: "unexpected end of template, expected '\(isBlock ? "%}" : "}}")'", line: startLine)
            }
            if Lexer.isPyWhitespace(c) { advance(); continue }
            if brackets.isEmpty {
                if isBlock {
                    if c == "%" && peek(1) == "}" || (c == "-" || c == "+") && peek(1) == "%" && peek(2) == "}" {
                        tokens.append(Token(.blockEnd, line: line))
                        finishBlockEnd(closer: "%")
                        return
                    }
                } else {
                    if c == "}" && peek(1) == "}" {
                        tokens.append(Token(.variableEnd, line: line))
                        advance(2)
                        lineStarting = false
                        return
                    }
                    if c == "-" && peek(1) == "}" && peek(2) == "}" {
                        tokens.append(Token(.variableEnd, line: line))
                        advance(3)
                        let before = pos
                        skipWhitespace()
                        lineStarting = pos > before && src[pos - 1] == "\n"
                        return
                    }
                }
            }
            let tokLine = line
            if c == "_" || c.properties.isAlphabetic {
                var j = pos
                while j < src.count && (src[j] == "_" || src[j].properties.isAlphabetic || ("0"..."9").contains(src[j])) { j += 1 }
                tokens.append(Token(.name(makeString(src[pos..<j])), line: tokLine))
                advance(j - pos)
                continue
            }
            if ("0"..."9").contains(c) {
                try lexNumber(line: tokLine)
                continue
            }
            if c == "'" || c == "\"" {
                let s = try lexString(quote: c)
                tokens.append(Token(.string(s), line: tokLine))
                continue
            }
            let two: String? = peek(1).map { String(c) + String($0) }
            if let two, ["//", "**", "==", "!=", "<=", ">="].contains(two) {
                tokens.append(Token(.op(two), line: tokLine))
                advance(2)
                continue
            }
            switch c {
            case "(", "[", "{":
                brackets.append(c)
            case ")", "]", "}":
                let expected: Unicode.Scalar = c == ")" ? "(" : (c == "]" ? "[" : "{")
                guard brackets.last == expected else {
                    throw JinjaError.syntax(message: "unexpected '\(c)'", line: tokLine)
                }
                brackets.removeLast()
            case "+", "-", "*", "/", "%", "~", "<", ">", "=", ",", ".", ":", "|", ";":
                break
            default:
                throw JinjaError.syntax(message: "unexpected character '\(c)'", line: tokLine)
            }
            tokens.append(Token(.op(String(c)), line: tokLine))
            advance()
        }
    }

    private mutating func lexNumber(line tokLine: Int) throws {
        func digits(_ from: Int) -> Int {
            var j = from
            while j < src.count && (("0"..."9").contains(src[j]) || src[j] == "_" && j + 1 < src.count && ("0"..."9").contains(src[j + 1])) { j += 1 }
            return j
        }
        var j = digits(pos)
        var isFloat = false
        let afterDot: Bool = {
            if case .op(".")? = tokens.last?.kind { return true }
            return false
        }()
        if !afterDot {
            if j + 1 < src.count && src[j] == "." && ("0"..."9").contains(src[j + 1]) {
                isFloat = true
                j = digits(j + 1)
            }
            if j < src.count && (src[j] == "e" || src[j] == "E") {
                var k = j + 1
                if k < src.count && (src[k] == "+" || src[k] == "-") { k += 1 }
                if k < src.count && ("0"..."9").contains(src[k]) {
                    isFloat = true
                    j = digits(k)
                }
            }
        }
        let text = makeString(src[pos..<j]).replacingUnderscores()
        if isFloat {
            guard let d = Double(text) else { throw JinjaError.syntax(message: "invalid number '\(text)'", line: tokLine) }
            tokens.append(Token(.float(d), line: tokLine))
        } else {
            guard let n = Int(text) else { throw JinjaError.syntax(message: "integer literal '\(text)' is too large", line: tokLine) }
            tokens.append(Token(.integer(n), line: tokLine))
        }
        advance(j - pos)
    }

    private static func hexValue(_ c: Unicode.Scalar) -> UInt32? {
        switch c {
        case "0"..."9": return c.value - 48
        case "a"..."f": return c.value - 87
        case "A"..."F": return c.value - 55
        default: return nil
        }
    }

    /// Lexes a quoted string literal, decoding escapes like Python's
    /// `unicode-escape` codec (which is what Jinja2 uses).
    private mutating func lexString(quote: Unicode.Scalar) throws -> String {
        let startLine = line
        advance() // opening quote
        var out = String.UnicodeScalarView()
        while true {
            guard let c = peek() else {
                throw JinjaError.syntax(message: "unterminated string literal", line: startLine)
            }
            if c == quote { advance(); break }
            if c != "\\" { out.append(c); advance(); continue }
            guard let e = peek(1) else {
                throw JinjaError.syntax(message: "unterminated string literal", line: startLine)
            }
            advance(2)
            switch e {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "v": out.append("\u{0B}")
            case "\n": break
            case "0"..."7":
                var value = e.value - 48
                var count = 1
                while count < 3, let d = peek(), ("0"..."7").contains(d) {
                    value = value * 8 + (d.value - 48)
                    advance()
                    count += 1
                }
                if let s = Unicode.Scalar(value) { out.append(s) }
            case "x", "u", "U":
                let n = e == "x" ? 2 : (e == "u" ? 4 : 8)
                var value: UInt32 = 0
                for k in 0..<n {
                    guard let d = peek(k), let h = Lexer.hexValue(d) else {
                        throw JinjaError.syntax(message: "truncated \\\(e) escape in string literal", line: line)
                    }
                    value = value &* 16 &+ h
                }
                advance(n)
                guard let s = Unicode.Scalar(value) else {
                    throw JinjaError.syntax(message: "invalid \\\(e) escape in string literal", line: line)
                }
                out.append(s)
            default:
                out.append("\\")
                out.append(e)
            }
        }
        return String(out)
    }
}

private extension String {
    func replacingUnderscores() -> String {
        String(self.unicodeScalars.filter { $0 != "_" }.map(Character.init))
    }
}

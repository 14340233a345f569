/// Parser for GBNF (llama.cpp's grammar format) that lowers to byte-level rules.
///
///     root  ::= item ("," item)*      # comment
///     item  ::= [a-z]+ | "\"" [^"]* "\"" | "x"{2,5} | .
///
/// A rule ends at the end of its line unless the next line starts with `|`
/// or is not itself the start of a rule (`name ::=`); inside parentheses
/// newlines are plain whitespace.
struct GBNFParser {
    struct Parsed {
        var names: [String]
        var rules: [[[GrammarElement]]]
        var byteSets: [ByteSet]
        var root: Int32
    }

    indirect enum Node {
        case seq([Node])
        case alt([Node])
        case literal([UInt8])
        case charClass([ClosedRange<UInt32>], negated: Bool)
        case any
        case ref(String, pos: Int)
        case rep(Node, min: Int, max: Int?)
    }

    private let text: [Unicode.Scalar]
    private var pos = 0
    private var depth = 0

    private init(_ text: String) { self.text = Array(text.unicodeScalars) }

    static func parse(_ text: String) throws -> Parsed {
        var p = GBNFParser(text)
        let defs = try p.parseGrammar()
        var lowering = Lowering(text: p.text)
        return try lowering.lower(defs)
    }

    // MARK: - Errors and positions

    static func location(in text: [Unicode.Scalar], _ pos: Int) -> (Int, Int) {
        var line = 1, col = 1
        for i in 0..<min(pos, text.count) {
            if text[i] == "\n" { line += 1; col = 1 } else { col += 1 }
        }
        return (line, col)
    }

    private func error(_ kind: GrammarError.Kind, _ message: String, at p: Int? = nil) -> GrammarError {
        let (l, c) = GBNFParser.location(in: text, p ?? pos)
        return GrammarError(kind, message, line: l, column: c)
    }

    private var atEnd: Bool { pos >= text.count }
    private var current: Unicode.Scalar? { pos < text.count ? text[pos] : nil }
    private func peek(_ k: Int) -> Unicode.Scalar? { pos + k < text.count ? text[pos + k] : nil }

    private func describeCurrent() -> String {
        guard let c = current else { return "end of input" }
        if c == "\n" { return "end of line" }
        return "'\(Character(c))'"
    }

    // MARK: - Lexical helpers

    private static func isNameChar(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" || c == "_"
    }

    /// Skips spaces, tabs and comments; newlines too when `newlines`.
    private mutating func skipSpace(newlines: Bool) {
        while let c = current {
            if c == " " || c == "\t" || (newlines && (c == "\n" || c == "\r")) {
                pos += 1
            } else if c == "#" {
                while let d = current, d != "\n" { pos += 1; _ = d }
            } else if c == "\r", peek(1) == "\n", newlines {
                pos += 1
            } else {
                break
            }
        }
    }

    /// Whether a rule definition (`name ::=`) starts at `p`.
    private func ruleStarts(at p: Int) -> Bool {
        var i = p
        guard i < text.count, GBNFParser.isNameChar(text[i]) else { return false }
        while i < text.count, GBNFParser.isNameChar(text[i]) { i += 1 }
        while i < text.count, text[i] == " " || text[i] == "\t" { i += 1 }
        return i + 2 < text.count + 0 && text[i] == ":" && text[i + 1] == ":" && text[i + 2] == "="
    }

    private mutating func parseName() throws -> String {
        let start = pos
        while let c = current, GBNFParser.isNameChar(c) { pos += 1 }
        guard pos > start else { throw error(.syntax, "expected a rule name, found \(describeCurrent())") }
        return String(String.UnicodeScalarView(text[start..<pos]))
    }

    // MARK: - Grammar structure

    struct Definition {
        var name: String
        var pos: Int
        var body: Node
    }

    private mutating func parseGrammar() throws -> [Definition] {
        var defs: [Definition] = []
        skipSpace(newlines: true)
        if atEnd { throw GrammarError(.emptyGrammar, "the grammar is empty") }
        while !atEnd {
            let start = pos
            let name = try parseName()
            skipSpace(newlines: false)
            guard current == ":", peek(1) == ":", peek(2) == "=" else {
                throw error(.syntax, "expected '::=' after rule name '\(name)', found \(describeCurrent())")
            }
            pos += 3
            skipSpace(newlines: true)
            let body = try parseAlternatives(nested: false)
            defs.append(Definition(name: name, pos: start, body: body))
            skipSpace(newlines: true)
            if let c = current, c == ")" {
                throw error(.unbalancedParentheses, "unexpected ')' without a matching '('")
            }
        }
        return defs
    }

    private mutating func parseAlternatives(nested: Bool) throws -> Node {
        var alts: [Node] = [try parseSequence(nested: nested)]
        while current == "|" {
            pos += 1
            skipSpace(newlines: true)
            alts.append(try parseSequence(nested: nested))
        }
        return alts.count == 1 ? alts[0] : .alt(alts)
    }

    private mutating func parseSequence(nested: Bool) throws -> Node {
        var items: [Node] = []
        while true {
            skipSpace(newlines: nested)
            guard let c = current else { break }
            if c == "\n" || c == "\r" {
                // End of line outside parentheses: continue only if the next
                // line goes on with this rule.
                var p = pos
                skipSpace(newlines: true)
                if atEnd || current == "|" || ruleStarts(at: pos) { break }
                if current == ")" { pos = p; p = 0; break }
                continue
            }
            if c == "|" || c == ")" { break }
            if !nested && ruleStarts(at: pos) && !items.isEmpty { break }
            if ruleStarts(at: pos) {
                throw error(.syntax, "a rule definition cannot start here")
            }
            var node = try parsePrimary()
            var postfixes = 0
            while let q = current, q == "*" || q == "+" || q == "?" || q == "{" {
                postfixes += 1
                if postfixes > 8 { throw error(.badRepetition, "too many repetition operators in a row") }
                let opPos = pos
                pos += 1
                switch q {
                case "*": node = .rep(node, min: 0, max: nil)
                case "+": node = .rep(node, min: 1, max: nil)
                case "?": node = .rep(node, min: 0, max: 1)
                default:
                    skipSpace(newlines: false)
                    let m = try parseCount()
                    skipSpace(newlines: false)
                    var n: Int? = m
                    if current == "," {
                        pos += 1
                        skipSpace(newlines: false)
                        n = current.map { $0 >= "0" && $0 <= "9" } == true ? try parseCount() : nil
                        skipSpace(newlines: false)
                    }
                    guard current == "}" else { throw error(.badRepetition, "expected '}' to close the repetition, found \(describeCurrent())") }
                    pos += 1
                    if let n, n < m { throw error(.badRepetition, "repetition {\(m),\(n)}: the maximum is below the minimum", at: opPos) }
                    node = .rep(node, min: m, max: n)
                }
            }
            items.append(node)
        }
        return items.count == 1 ? items[0] : .seq(items)
    }

    private mutating func parseCount() throws -> Int {
        let start = pos
        var v = 0
        while let c = current, c >= "0" && c <= "9" {
            v = min(v * 10 + Int(c.value - 48), 1_000_000_000)
            pos += 1
        }
        guard pos > start else { throw error(.badRepetition, "expected a number in the repetition, found \(describeCurrent())") }
        if v > GrammarLimits.maxRepetition {
            throw error(.badRepetition, "repetition count \(v) is above the limit of \(GrammarLimits.maxRepetition)", at: start)
        }
        return v
    }

    private mutating func parsePrimary() throws -> Node {
        guard let c = current else { throw error(.syntax, "unexpected end of input") }
        switch c {
        case "\"":
            pos += 1
            var bytes: [UInt8] = []
            while true {
                guard let d = current else { throw error(.syntax, "unterminated string literal") }
                if d == "\"" { pos += 1; break }
                let cp = try parseChar()
                bytes.append(contentsOf: UTF8Ranges.encode(cp))
            }
            return .literal(bytes)
        case "[":
            let start = pos
            pos += 1
            var negated = false
            if current == "^" { negated = true; pos += 1 }
            var ranges: [ClosedRange<UInt32>] = []
            while true {
                guard let d = current else { throw error(.syntax, "unterminated character class", at: start) }
                if d == "]" { pos += 1; break }
                let lo = try parseChar()
                var hi = lo
                if current == "-", let n = peek(1), n != "]" {
                    pos += 1
                    hi = try parseChar()
                    if hi < lo { throw error(.syntax, "character range is out of order", at: pos - 1) }
                }
                ranges.append(lo...hi)
            }
            if ranges.isEmpty && !negated { throw error(.syntax, "empty character class", at: start) }
            return .charClass(ranges, negated: negated)
        case ".":
            pos += 1
            return .any
        case "(":
            let open = pos
            depth += 1
            if depth > GrammarLimits.maxNesting { throw error(.tooLarge, "parentheses nested deeper than \(GrammarLimits.maxNesting)") }
            pos += 1
            skipSpace(newlines: true)
            let inner = try parseAlternatives(nested: true)
            skipSpace(newlines: true)
            guard current == ")" else {
                throw error(.unbalancedParentheses, "expected ')' to close the '(' at \(Self.location(in: text, open).0):\(Self.location(in: text, open).1), found \(describeCurrent())")
            }
            pos += 1
            depth -= 1
            // Keep groups distinct so that a repetition applies to the whole group.
            return .alt([inner])
        case ")":
            throw error(.unbalancedParentheses, "unexpected ')' without a matching '('")
        default:
            if GBNFParser.isNameChar(c) {
                let p = pos
                return .ref(try parseName(), pos: p)
            }
            if c == "*" || c == "+" || c == "?" || c == "{" {
                throw error(.badRepetition, "'\(Character(c))' must follow an expression")
            }
            throw error(.syntax, "unexpected \(describeCurrent())")
        }
    }

    /// One (possibly escaped) character of a literal or class, as a code point.
    private mutating func parseChar() throws -> UInt32 {
        guard let c = current else { throw error(.syntax, "unexpected end of input") }
        if c != "\\" { pos += 1; return c.value }
        let escPos = pos
        pos += 1
        guard let e = current else { throw error(.badEscape, "unfinished escape at end of input", at: escPos) }
        pos += 1
        switch e {
        case "n": return 10
        case "t": return 9
        case "r": return 13
        case "\\", "\"", "[", "]", "-", "^", "/", "'": return e.value
        case "x", "u", "U":
            let count = e == "x" ? 2 : e == "u" ? 4 : 8
            var v: UInt32 = 0
            for _ in 0..<count {
                guard let h = current, let d = Self.hexValue(h) else {
                    throw error(.badEscape, "escape '\\\(Character(e))' needs \(count) hex digits", at: escPos)
                }
                v = v << 4 | d
                pos += 1
            }
            if v > UTF8Ranges.maxScalar || (0xD800...0xDFFF).contains(v) {
                throw error(.badEscape, "escape '\\\(Character(e))' is not a valid code point", at: escPos)
            }
            return v
        default:
            throw error(.badEscape, "unknown escape '\\\(Character(e))'", at: escPos)
        }
    }

    private static func hexValue(_ c: Unicode.Scalar) -> UInt32? {
        switch c {
        case "0"..."9": return c.value - 48
        case "a"..."f": return c.value - 87
        case "A"..."F": return c.value - 55
        default: return nil
        }
    }
}

// MARK: - Lowering to byte-level rules

private struct Lowering {
    let text: [Unicode.Scalar]
    var names: [String] = []
    var rules: [[[GrammarElement]]] = []
    var ids: [String: Int32] = [:]
    var defined: [Bool] = []
    var firstUse: [Int] = []
    var byteSets: [ByteSet] = []
    var byteSetIDs: [ByteSet: Int32] = [:]
    var classRules: [[ClosedRange<UInt32>]: Int32] = [:]
    var elementCount = 0
    var owner = ""

    init(text: [Unicode.Scalar]) { self.text = text }

    func error(_ kind: GrammarError.Kind, _ message: String, at p: Int?) -> GrammarError {
        guard let p else { return GrammarError(kind, message) }
        let (l, c) = GBNFParser.location(in: text, p)
        return GrammarError(kind, message, line: l, column: c)
    }

    mutating func ruleID(_ name: String, pos: Int) throws -> Int32 {
        if let id = ids[name] { return id }
        return try newRule(name, pos: pos)
    }

    mutating func newRule(_ name: String, pos: Int) throws -> Int32 {
        if rules.count >= GrammarLimits.maxRules {
            throw error(.tooLarge, "the grammar has more than \(GrammarLimits.maxRules) rules", at: nil)
        }
        let id = Int32(rules.count)
        names.append(name)
        rules.append([])
        defined.append(false)
        firstUse.append(pos)
        ids[name] = id
        return id
    }

    mutating func generatedRule(_ alts: [[GrammarElement]]) throws -> Int32 {
        var n = names.count
        var name = "\(owner)_\(n)"
        while ids[name] != nil { n += 1; name = "\(owner)_\(n)" }
        let id = try newRule(name, pos: 0)
        defined[Int(id)] = true
        rules[Int(id)] = alts
        try count(alts.reduce(1) { $0 + $1.count + 1 })
        return id
    }

    mutating func count(_ n: Int) throws {
        elementCount += n
        if elementCount > GrammarLimits.maxElements {
            throw error(.tooLarge, "the grammar expands to more than \(GrammarLimits.maxElements) elements", at: nil)
        }
    }

    mutating func byteSet(_ s: ByteSet) -> GrammarElement {
        if let id = byteSetIDs[s] { return GrammarElement(kind: .bytes, value: id) }
        let id = Int32(byteSets.count)
        byteSets.append(s)
        byteSetIDs[s] = id
        return GrammarElement(kind: .bytes, value: id)
    }

    mutating func lower(_ defs: [GBNFParser.Definition]) throws -> GBNFParser.Parsed {
        // Named rules first, in order of definition, so their ids are stable.
        for d in defs {
            let id = try ruleID(d.name, pos: d.pos)
            if defined[Int(id)] {
                throw error(.duplicateRule, "rule '\(d.name)' is defined more than once", at: d.pos)
            }
            defined[Int(id)] = true
        }
        for d in defs {
            owner = d.name
            let id = ids[d.name]!
            let alts = try lowerAlternatives(d.body)
            rules[Int(id)] = alts
            try count(alts.reduce(1) { $0 + $1.count + 1 })
        }
        for (i, ok) in defined.enumerated() where !ok {
            throw error(.undefinedRule, "rule '\(names[i])' is used but never defined", at: firstUse[i])
        }
        guard let root = ids["root"] else {
            throw GrammarError(.missingRoot, "the grammar has no 'root' rule")
        }
        try checkLeftRecursion(defs)
        return GBNFParser.Parsed(names: names, rules: rules, byteSets: byteSets, root: root)
    }

    mutating func lowerAlternatives(_ node: GBNFParser.Node) throws -> [[GrammarElement]] {
        if case .alt(let alts) = node {
            if alts.count == 1, case .alt = alts[0] { return try lowerAlternatives(alts[0]) }
            var out: [[GrammarElement]] = []
            for a in alts {
                if case .alt(let inner) = a, inner.count > 1 {
                    var seq: [GrammarElement] = []
                    try lowerSequence(a, into: &seq)
                    out.append(seq)
                } else if case .alt(let inner) = a, inner.count == 1 {
                    out.append(contentsOf: try lowerAlternatives(inner[0]))
                } else {
                    var seq: [GrammarElement] = []
                    try lowerSequence(a, into: &seq)
                    out.append(seq)
                }
            }
            return out
        }
        var seq: [GrammarElement] = []
        try lowerSequence(node, into: &seq)
        return [seq]
    }

    mutating func lowerSequence(_ node: GBNFParser.Node, into seq: inout [GrammarElement]) throws {
        switch node {
        case .seq(let items):
            for item in items { try lowerSequence(item, into: &seq) }
        case .literal(let bytes):
            for b in bytes {
                var s = ByteSet()
                s.insert(b)
                seq.append(byteSet(s))
            }
        case .charClass(let ranges, let negated):
            seq.append(try lowerClass(negated ? UTF8Ranges.complement(ranges) : UTF8Ranges.normalize(ranges)))
        case .any:
            seq.append(try lowerClass([0...UTF8Ranges.maxScalar]))
        case .ref(let name, let pos):
            seq.append(GrammarElement(kind: .ref, value: try ruleID(name, pos: pos)))
        case .alt(let alts):
            if alts.count == 1 {
                // A parenthesized group: inline a plain sequence, otherwise a rule.
                if case .alt = alts[0] {
                    seq.append(GrammarElement(kind: .ref, value: try generatedRule(try lowerAlternatives(alts[0]))))
                } else {
                    try lowerSequence(alts[0], into: &seq)
                }
            } else {
                seq.append(GrammarElement(kind: .ref, value: try generatedRule(try lowerAlternatives(node))))
            }
        case .rep(let inner, let minCount, let maxCount):
            var body: [GrammarElement] = []
            try lowerSequence(inner, into: &body)
            let item: GrammarElement
            if body.count == 1 {
                item = body[0]
            } else {
                item = GrammarElement(kind: .ref, value: try generatedRule([body]))
            }
            try count(minCount)
            for _ in 0..<minCount { seq.append(item) }
            if let maxCount {
                let extra = maxCount - minCount
                if extra > 0 {
                    var opt = try generatedRule([[item], []])
                    for _ in 1..<extra {
                        opt = try generatedRule([[item, GrammarElement(kind: .ref, value: opt)], []])
                    }
                    seq.append(GrammarElement(kind: .ref, value: opt))
                }
            } else {
                let star = try generatedRule([])
                rules[Int(star)] = [[item, GrammarElement(kind: .ref, value: star)], []]
                try count(4)
                seq.append(GrammarElement(kind: .ref, value: star))
            }
        }
        try count(0)
    }

    /// A code point class as one byte-set terminal when it is ASCII only,
    /// otherwise as a (shared) rule over UTF-8 byte sequences.
    mutating func lowerClass(_ ranges: [ClosedRange<UInt32>]) throws -> GrammarElement {
        if let last = ranges.last, last.upperBound < 0x80 {
            var s = ByteSet()
            for r in ranges { s.insert(UInt8(r.lowerBound)...UInt8(r.upperBound)) }
            return byteSet(s)
        }
        if let id = classRules[ranges] { return GrammarElement(kind: .ref, value: id) }
        var single = ByteSet()
        var hasSingle = false
        var alts: [[GrammarElement]] = []
        for seqRanges in UTF8Ranges.sequences(ranges) {
            if seqRanges.count == 1 {
                single.insert(seqRanges[0])
                hasSingle = true
                continue
            }
            alts.append(seqRanges.map { r -> GrammarElement in
                var s = ByteSet()
                s.insert(r)
                return byteSet(s)
            })
        }
        if hasSingle { alts.insert([byteSet(single)], at: 0) }
        if alts.isEmpty {
            // A class that matches nothing (e.g. only surrogates): an
            // impossible terminal.
            return byteSet(ByteSet())
        }
        let saved = owner
        owner = "class"
        let id = try generatedRule(alts)
        owner = saved
        classRules[ranges] = id
        return GrammarElement(kind: .ref, value: id)
    }

    /// Rejects rules that can reach themselves without consuming input:
    /// a matcher would expand them forever.
    func checkLeftRecursion(_ defs: [GBNFParser.Definition]) throws {
        let n = rules.count
        // Nullable rules, by a worklist over alternatives.
        var nullable = [Bool](repeating: false, count: n)
        var altRule: [Int32] = []
        var pending: [Int] = []
        var users = [[Int]](repeating: [], count: n)
        var work: [Int32] = []
        for (r, alts) in rules.enumerated() {
            for alt in alts {
                let a = altRule.count
                altRule.append(Int32(r))
                if alt.contains(where: { $0.kind == .bytes }) { pending.append(-1); continue }
                pending.append(alt.count)
                for e in alt where e.kind == .ref { users[Int(e.value)].append(a) }
                if alt.isEmpty && !nullable[r] { nullable[r] = true; work.append(Int32(r)) }
            }
        }
        while let r = work.popLast() {
            for a in users[Int(r)] where pending[a] > 0 {
                pending[a] -= 1
                if pending[a] == 0 {
                    let owner = Int(altRule[a])
                    if !nullable[owner] { nullable[owner] = true; work.append(Int32(owner)) }
                }
            }
        }
        // Left-corner graph and a cycle search (iterative DFS).
        var edges = [[Int32]](repeating: [], count: n)
        for (r, alts) in rules.enumerated() {
            for alt in alts {
                for e in alt {
                    if e.kind != .ref { break }
                    edges[r].append(e.value)
                    if !nullable[Int(e.value)] { break }
                }
            }
        }
        var color = [UInt8](repeating: 0, count: n)  // 0 new, 1 on stack, 2 done
        for start in 0..<n where color[start] == 0 {
            var stack: [(Int, Int)] = [(start, 0)]
            color[start] = 1
            while !stack.isEmpty {
                let (r, i) = stack[stack.count - 1]
                if i < edges[r].count {
                    stack[stack.count - 1].1 += 1
                    let s = Int(edges[r][i])
                    if color[s] == 1 {
                        // Name the first user-defined rule on the cycle.
                        let cycle = stack.map { $0.0 }.drop(while: { $0 != s })
                        let definedNames = Set(defs.map { $0.name })
                        let named = cycle.first(where: { r in definedNames.contains(names[r]) }) ?? s
                        let def = defs.first(where: { $0.name == names[named] })
                        throw error(.leftRecursion,
                                    "rule '\(names[named])' is left-recursive (it can reach itself without consuming input; a repetition of something that can be empty does this too)",
                                    at: def?.pos)
                    }
                    if color[s] == 0 {
                        color[s] = 1
                        stack.append((s, 0))
                    }
                } else {
                    color[r] = 2
                    stack.removeLast()
                }
            }
        }
    }
}

/// A grammar error: what went wrong and, when it comes from grammar text, where
/// (1-based line and column).
public struct GrammarError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case emptyGrammar
        case syntax
        case badEscape
        case unbalancedParentheses
        case undefinedRule
        case missingRoot
        case duplicateRule
        case leftRecursion
        case badRepetition
        case tooLarge
    }

    public let kind: Kind
    public let message: String
    public let line: Int
    public let column: Int

    public init(_ kind: Kind, _ message: String, line: Int = 0, column: Int = 0) {
        self.kind = kind
        self.message = message
        self.line = line
        self.column = column
    }

    public var description: String {
        line > 0 ? "grammar error at \(line):\(column): \(message)" : "grammar error: \(message)"
    }
}

/// Limits that keep hostile grammars from exhausting memory or time.
public enum GrammarLimits {
    /// Largest count allowed in `{m,n}`.
    public static let maxRepetition = 10_000
    /// Most rules (named and generated) a grammar may have.
    public static let maxRules = 100_000
    /// Most elements in the lowered grammar.
    public static let maxElements = 2_000_000
    /// Deepest nesting of parentheses.
    public static let maxNesting = 200
    /// Most grammar stacks a matcher keeps at once; further ones are dropped.
    public static let maxStacks = 1_024
    /// Automaton states cached per grammar before the cache is dropped and rebuilt.
    public static let maxCachedStates = 20_000
}

/// One element of the lowered, byte-level grammar.
///
/// Rules are stored flat: each rule is its alternatives separated by `alt` and
/// closed by `end`. Terminals match one byte against a 256-bit set; character
/// classes over code points are lowered to UTF-8 byte sequences when parsed.
@usableFromInline
struct GrammarElement: Sendable, Equatable {
    @usableFromInline enum Kind: UInt8, Sendable { case end, alt, ref, bytes }
    @usableFromInline var kind: Kind
    /// Rule index for `ref`, byte-set index for `bytes`.
    @usableFromInline var value: Int32
}

/// 256-bit set of bytes.
@usableFromInline
struct ByteSet: Hashable, Sendable {
    @usableFromInline var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0

    @inlinable init() {}

    @inlinable func contains(_ b: UInt8) -> Bool {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: return w0 & bit != 0
        case 1: return w1 & bit != 0
        case 2: return w2 & bit != 0
        default: return w3 & bit != 0
        }
    }

    @inlinable mutating func insert(_ b: UInt8) {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: w0 |= bit
        case 1: w1 |= bit
        case 2: w2 |= bit
        default: w3 |= bit
        }
    }

    mutating func insert(_ r: ClosedRange<UInt8>) { for b in r { insert(b) } }
}

/// A compiled grammar: rules lowered to byte-level elements, plus the shared,
/// lazily built automaton cache that every `GrammarMatcher` made from it uses.
/// Immutable from the outside and safe to share between threads.
public final class Grammar: Sendable {
    /// Rule names, indexed by rule id (generated rules have derived names).
    public let ruleNames: [String]
    let elements: [GrammarElement]
    let ruleStarts: [Int32]
    /// Start offset of each alternative, per rule.
    let alternatives: [[Int32]]
    let byteSets: [ByteSet]
    let rootRule: Int32
    let runtime: GrammarRuntime

    init(ruleNames: [String], rules: [[[GrammarElement]]], byteSets: [ByteSet], root: Int32) {
        self.ruleNames = ruleNames
        var elements: [GrammarElement] = []
        var starts: [Int32] = []
        var alts: [[Int32]] = []
        for rule in rules {
            starts.append(Int32(elements.count))
            var a: [Int32] = []
            for (i, alt) in rule.enumerated() {
                if i > 0 { elements.append(GrammarElement(kind: .alt, value: 0)) }
                a.append(Int32(elements.count))
                elements.append(contentsOf: alt)
            }
            if rule.isEmpty { a.append(Int32(elements.count)) }
            elements.append(GrammarElement(kind: .end, value: 0))
            alts.append(a)
        }
        self.elements = elements
        self.ruleStarts = starts
        self.alternatives = alts
        self.byteSets = byteSets
        self.rootRule = root
        self.runtime = GrammarRuntime()
    }

    /// Parses GBNF text (llama.cpp syntax). The start rule is `root`.
    public convenience init(gbnf text: String) throws {
        let parsed = try GBNFParser.parse(text)
        self.init(ruleNames: parsed.names, rules: parsed.rules, byteSets: parsed.byteSets, root: parsed.root)
    }

    /// Number of lowered elements.
    public var elementCount: Int { elements.count }

    /// Whether the whole of `text` is a sentence of the grammar.
    public func accepts(_ text: String) -> Bool {
        var m = GrammarMatcher(grammar: self)
        for b in text.utf8 where !m.accept(b) { return false }
        return m.isAccepting
    }

    /// Whether `text` is a prefix of some sentence of the grammar.
    public func acceptsPrefix(_ text: String) -> Bool {
        var m = GrammarMatcher(grammar: self)
        for b in text.utf8 where !m.accept(b) { return false }
        return true
    }
}

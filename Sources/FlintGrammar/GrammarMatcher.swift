/// Matches input against a `Grammar` byte by byte (a pushdown automaton in the
/// style of llama.cpp: a set of grammar stacks, advanced on every byte; UTF-8
/// is handled by the byte-level lowering of character classes).
///
/// A value type: copying a matcher is cheap (the automaton cache is shared via
/// the grammar), so a sequence can keep its own state and fork it.
public struct GrammarMatcher: Sendable {
    public let grammar: Grammar
    /// Current stacks (interned ids, sorted). Empty only if the input was rejected.
    private var stacks: [Int32]
    private var state: Int32
    private var epoch: Int

    public init(grammar: Grammar) {
        self.grammar = grammar
        let rt = grammar.runtime
        (stacks, state, epoch) = rt.withLock {
            let s = rt.initialStacks(grammar)
            let st = rt.state(for: s, cached: 0, cachedEpoch: -1)
            return (s, st, rt.epoch)
        }
    }

    /// Sets `state`/`epoch` to a state id valid now; lock held.
    private mutating func refresh(_ rt: GrammarRuntime) -> Int32 {
        let st = rt.state(for: stacks, cached: state, cachedEpoch: epoch)
        state = st
        epoch = rt.epoch
        return st
    }

    /// Consumes one byte. Returns false, leaving the matcher unchanged, when the
    /// grammar does not allow it here.
    @discardableResult
    public mutating func accept(_ byte: UInt8) -> Bool {
        let rt = grammar.runtime
        return rt.withLock {
            let s = refresh(rt)
            let n = rt.step(s, byte, grammar)
            if n == 0 { return false }
            state = n
            stacks = rt.stateSets[Int(n)]
            return true
        }
    }

    /// Consumes a byte string, all or nothing.
    @discardableResult
    public mutating func accept<S: Sequence>(bytes: S) -> Bool where S.Element == UInt8 {
        let rt = grammar.runtime
        return rt.withLock {
            var s = refresh(rt)
            for b in bytes {
                s = rt.step(s, b, grammar)
                if s == 0 { return false }
            }
            state = s
            stacks = rt.stateSets[Int(s)]
            return true
        }
    }

    /// Consumes the UTF-8 bytes of `text`, all or nothing.
    @discardableResult
    public mutating func accept(string text: String) -> Bool { accept(bytes: text.utf8) }

    /// Consumes a sampled token. An end-of-generation token is accepted (without
    /// changing the state) only when the grammar is complete. Returns false,
    /// leaving the matcher unchanged, when the token is not allowed.
    @discardableResult
    public mutating func acceptToken(_ id: Int32, in trie: VocabularyTrie) -> Bool {
        if trie.isEndOfGeneration(id) { return isAccepting }
        guard trie.isMatchable(id) else { return false }
        return accept(bytes: trie.bytes(of: id))
    }

    /// Whether the input so far is a complete sentence (end of sequence allowed).
    public var isAccepting: Bool { stacks.first == 0 }

    /// Whether any continuation (other than stopping) is possible.
    public var canContinue: Bool { stacks.contains { $0 != 0 } }

    /// The tokens allowed next.
    public func mask(for trie: VocabularyTrie) -> TokenMask { mask(for: trie, cache: true) }

    /// `cache: false` recomputes the mask even when one is cached for this state (for timing).
    public func mask(for trie: VocabularyTrie, cache: Bool) -> TokenMask {
        var copy = self
        let rt = grammar.runtime
        let bits = rt.withLock { () -> [UInt64] in
            let s = copy.refresh(rt)
            return rt.mask(s, trie, grammar, cache: cache)
        }
        return TokenMask(bits: bits, vocabularySize: trie.vocabularySize)
    }

    /// A copy with the same state (matchers are values; this is for clarity).
    public func clone() -> GrammarMatcher { self }
}

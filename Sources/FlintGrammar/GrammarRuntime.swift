import Foundation

/// The mutable, shared side of a `Grammar`: interned grammar stacks and a lazily
/// built DFA whose states are sets of stacks.
///
/// A grammar stack (llama.cpp's term) is a list of positions in the lowered
/// rules; the top is the next terminal to match, the rest are where to continue
/// once the current rule ends. Stacks are hash-consed as (top, parent) nodes, so
/// a stack is one `Int32` (0 = the empty stack: the root rule is complete).
/// A DFA state is a sorted set of stacks whose tops are all byte terminals (or
/// the empty stack), and a transition is "advance every stack by one byte".
/// Transitions are computed on first use and kept, so after warm-up a matcher
/// step and each trie edge of a mask walk cost one array load.
final class GrammarRuntime: @unchecked Sendable {
    private let lock = NSLock()

    // Interned stacks: id 0 is the empty stack.
    private var stackPos: [Int32] = [-1]
    private var stackParent: [Int32] = [0]
    private var stackIDs: [UInt64: Int32] = [:]
    private var closures: [Int32: [Int32]] = [:]

    // DFA: state 0 is dead (no stacks).
    private(set) var stateSets: [[Int32]] = [[]]
    private var stateIDs: [[Int32]: Int32] = [:]
    /// 256 entries per state: the next state, or -1 when not computed yet.
    /// Manually managed so the mask walk reads it without exclusivity checks.
    private var transitions: UnsafeMutablePointer<Int32>
    private var transitionCapacity: Int  // in states
    private(set) var epoch = 0
    private var initialSet: [Int32]?

    // Masks per (trie, state), for the current epoch.
    private var masks: [MaskKey: [UInt64]] = [:]
    private struct MaskKey: Hashable { var trie: UInt64; var state: Int32 }

    /// States kept before the DFA cache is dropped and rebuilt on demand.
    static var maxStates: Int { GrammarLimits.maxCachedStates }
    static let maxCachedMasks = 512
    /// Work limit for one closure (guards against pathological grammars).
    static let maxClosureStacks = 100_000

    init() {
        transitionCapacity = 64
        transitions = .allocate(capacity: 64 * 256)
        transitions.initialize(repeating: 0, count: 256)
    }

    deinit { transitions.deallocate() }

    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    // MARK: - Stacks

    private func intern(_ pos: Int32, _ parent: Int32) -> Int32 {
        let key = UInt64(UInt32(bitPattern: pos)) << 32 | UInt64(UInt32(bitPattern: parent))
        if let id = stackIDs[key] { return id }
        let id = Int32(stackPos.count)
        stackPos.append(pos)
        stackParent.append(parent)
        stackIDs[key] = id
        return id
    }

    /// The stacks with a terminal (or nothing) on top that `stack` expands to.
    private func closure(_ stack: Int32, _ g: Grammar) -> [Int32] {
        if stack == 0 { return [0] }
        if let c = closures[stack] { return c }
        var result: [Int32] = []
        var visited = Set<Int32>()
        var work: [Int32] = [stack]
        while let st = work.popLast() {
            if !visited.insert(st).inserted { continue }
            if visited.count > GrammarRuntime.maxClosureStacks { break }
            if st == 0 { result.append(0); continue }
            let p = stackPos[Int(st)]
            let el = g.elements[Int(p)]
            if el.kind == .bytes { result.append(st); continue }
            // A rule reference: replace it by each alternative, continuing after it.
            let parent = stackParent[Int(st)]
            let contKind = g.elements[Int(p) + 1].kind
            let base = (contKind == .end || contKind == .alt) ? parent : intern(p + 1, parent)
            for a in g.alternatives[Int(el.value)] {
                let k = g.elements[Int(a)].kind
                work.append((k == .end || k == .alt) ? base : intern(a, base))
            }
        }
        result.sort()
        closures[stack] = result
        return result
    }

    // MARK: - DFA states

    private func internState(_ set: [Int32]) -> Int32 {
        if set.isEmpty { return 0 }
        if let id = stateIDs[set] { return id }
        let id = Int32(stateSets.count)
        stateSets.append(set)
        stateIDs[set] = id
        if Int(id) >= transitionCapacity {
            let grown = UnsafeMutablePointer<Int32>.allocate(capacity: transitionCapacity * 2 * 256)
            grown.moveInitialize(from: transitions, count: Int(id) * 256)
            transitions.deallocate()
            transitions = grown
            transitionCapacity *= 2
        }
        (transitions + Int(id) * 256).initialize(repeating: -1, count: 256)
        return id
    }

    private static func normalize(_ s: inout [Int32]) {
        s.sort()
        var w = 0
        for i in 0..<s.count where i == 0 || s[i] != s[i - 1] {
            s[w] = s[i]
            w += 1
        }
        s.removeLast(s.count - w)
        if s.count > GrammarLimits.maxStacks { s.removeLast(s.count - GrammarLimits.maxStacks) }
    }

    /// Drops the DFA when it grew too large. Stacks stay valid.
    private func maybeFlush() {
        guard stateSets.count > GrammarRuntime.maxStates else { return }
        stateSets = [[]]
        stateIDs = [:]
        transitions.deallocate()
        transitionCapacity = 64
        transitions = .allocate(capacity: 64 * 256)
        transitions.initialize(repeating: 0, count: 256)
        masks = [:]
        closures = [:]
        epoch += 1
    }

    func initialStacks(_ g: Grammar) -> [Int32] {
        if let s = initialSet { return s }
        var set: [Int32] = []
        for a in g.alternatives[Int(g.rootRule)] {
            let k = g.elements[Int(a)].kind
            if k == .end || k == .alt { set.append(0) } else { set.append(contentsOf: closure(intern(a, 0), g)) }
        }
        GrammarRuntime.normalize(&set)
        initialSet = set
        return set
    }

    /// The state id for a stack set, valid in the current epoch (flushes first
    /// when the cache is full). Call with the lock held.
    func state(for stacks: [Int32], cached: Int32, cachedEpoch: Int) -> Int32 {
        maybeFlush()
        if cachedEpoch == epoch { return cached }
        return internState(stacks)
    }

    /// Advances `state` by `byte`: 0 when no stack accepts it.
    @inline(__always)
    func step(_ state: Int32, _ byte: UInt8, _ g: Grammar) -> Int32 {
        let t = transitions[Int(state) &* 256 &+ Int(byte)]
        if t >= 0 { return t }
        return computeStep(state, byte, g)
    }

    private func computeStep(_ state: Int32, _ byte: UInt8, _ g: Grammar) -> Int32 {
        var out: [Int32] = []
        for st in stateSets[Int(state)] where st != 0 {
            let p = stackPos[Int(st)]
            let el = g.elements[Int(p)]
            guard el.kind == .bytes, g.byteSets[Int(el.value)].contains(byte) else { continue }
            let parent = stackParent[Int(st)]
            let k = g.elements[Int(p) + 1].kind
            let next = (k == .end || k == .alt) ? parent : intern(p + 1, parent)
            out.append(contentsOf: closure(next, g))
        }
        GrammarRuntime.normalize(&out)
        let id = internState(out)
        transitions[Int(state) * 256 + Int(byte)] = id
        return id
    }

    func isAccepting(_ state: Int32) -> Bool { stateSets[Int(state)].first == 0 }

    // MARK: - Masks

    /// The allowed-token bitset for `state` over `trie` (lock held).
    func mask(_ state: Int32, _ trie: VocabularyTrie, _ g: Grammar, cache: Bool = true) -> [UInt64] {
        let key = MaskKey(trie: trie.uniqueID, state: state)
        if cache, let m = masks[key] { return m }
        var bits = [UInt64](repeating: 0, count: (trie.vocabularySize + 63) / 64)
        let n = trie.nodeCount
        var stateAt = [Int32](repeating: 0, count: trie.maxDepth + 1)
        stateAt[0] = state
        trie.nodeByte.withUnsafeBufferPointer { bytes in
        trie.nodeDepth.withUnsafeBufferPointer { depths in
        trie.subtreeEnd.withUnsafeBufferPointer { ends in
        trie.tokenStart.withUnsafeBufferPointer { tstart in
        trie.tokenIDs.withUnsafeBufferPointer { tids in
        bits.withUnsafeMutableBufferPointer { out in
        stateAt.withUnsafeMutableBufferPointer { stateAt in
            var table = transitions
            var i = 1
            while i < n {
                let d = Int(depths[i])
                let ps = stateAt[d - 1]
                let b = bytes[i]
                var ns = table[Int(ps) &* 256 &+ Int(b)]
                if ns < 0 {
                    ns = computeStep(ps, b, g)
                    table = transitions  // may have moved
                }
                if ns == 0 {
                    i = Int(ends[i])
                    continue
                }
                stateAt[d] = ns
                var t = Int(tstart[i])
                let tEnd = Int(tstart[i + 1])
                while t < tEnd {
                    let id = Int(tids[t])
                    out[id >> 6] |= 1 << UInt64(id & 63)
                    t += 1
                }
                i += 1
            }
        }}}}}}}
        if isAccepting(state) {
            for id in trie.endOfGeneration where Int(id) < trie.vocabularySize {
                bits[Int(id) >> 6] |= 1 << UInt64(Int(id) & 63)
            }
        }
        if masks.count >= GrammarRuntime.maxCachedMasks { masks.removeAll(keepingCapacity: true) }
        masks[key] = bits
        return bits
    }
}

import FlintTokenizers

/// All token byte strings of a vocabulary in a trie laid out in preorder, so a
/// mask walk is one linear pass that skips the subtree of every rejected prefix.
/// Built once per tokenizer; immutable and shareable.
public final class VocabularyTrie: Sendable {
    public let vocabularySize: Int
    /// End-of-generation ids: allowed only when the grammar is complete.
    public let endOfGeneration: [Int32]
    let endOfGenerationSet: Set<Int32>
    // Per token: its bytes (offsets into one buffer).
    let byteStorage: [UInt8]
    let byteOffsets: [Int32]
    // Nodes in preorder; node 0 is the root (empty prefix).
    let nodeByte: [UInt8]
    let nodeDepth: [UInt16]
    let subtreeEnd: [Int32]
    /// Tokens ending at node i are tokenIDs[tokenStart[i] ..< tokenStart[i + 1]].
    let tokenStart: [Int32]
    let tokenIDs: [Int32]
    let maxDepth: Int
    let uniqueID: UInt64
    /// Whether each token id is in the trie (can ever be allowed by a grammar).
    let inTrie: [Bool]

    /// Longest token kept in the trie (longer ones are left out: never allowed).
    public static let maxTokenBytes = 1024

    public var nodeCount: Int { nodeByte.count }

    /// The trie of a tokenizer's vocabulary. Control, unused and unknown tokens
    /// and tokens without bytes are never allowed; end-of-generation tokens are
    /// handled apart.
    public convenience init(tokenizer: Tokenizer) {
        var tokens: [[UInt8]] = []
        tokens.reserveCapacity(tokenizer.vocabularySize)
        var excluded: [Bool] = []
        for i in 0..<tokenizer.vocabularySize {
            let id = Int32(i)
            let t = tokenizer.tokenType(id)
            excluded.append(t == .control || t == .unused || t == .unknown)
            tokens.append(tokenizer.tokenBytes(id))
        }
        self.init(tokens: tokens, endOfGeneration: Array(tokenizer.endOfGenerationIDs).sorted(), excluded: excluded)
    }

    /// A trie over explicit token byte strings (token id = index).
    public init(tokens: [[UInt8]], endOfGeneration: [Int32], excluded: [Bool] = []) {
        vocabularySize = tokens.count
        self.endOfGeneration = endOfGeneration
        endOfGenerationSet = Set(endOfGeneration)
        var storage: [UInt8] = []
        var offsets: [Int32] = [0]
        for t in tokens {
            storage.append(contentsOf: t)
            offsets.append(Int32(storage.count))
        }
        byteStorage = storage
        byteOffsets = offsets

        var ids: [Int32] = []
        for (i, t) in tokens.enumerated() {
            let id = Int32(i)
            if t.isEmpty || t.count > VocabularyTrie.maxTokenBytes || endOfGenerationSet.contains(id) { continue }
            if i < excluded.count && excluded[i] { continue }
            ids.append(id)
        }
        ids.sort { a, b in tokens[Int(a)].lexicographicallyPrecedes(tokens[Int(b)]) }

        var nodeByte: [UInt8] = [0]
        var nodeDepth: [UInt16] = [0]
        var subtreeEnd: [Int32] = [0]
        var tokenNode: [Int32] = []
        var path: [Int32] = [0]  // path[d] = node at depth d
        var prev: [UInt8] = []
        var maxDepth = 0
        for id in ids {
            let t = tokens[Int(id)]
            var lcp = 0
            while lcp < t.count && lcp < prev.count && t[lcp] == prev[lcp] { lcp += 1 }
            while path.count > lcp + 1 {
                subtreeEnd[Int(path.removeLast())] = Int32(nodeByte.count)
            }
            for d in lcp..<t.count {
                let node = Int32(nodeByte.count)
                nodeByte.append(t[d])
                nodeDepth.append(UInt16(d + 1))
                subtreeEnd.append(0)
                path.append(node)
            }
            maxDepth = max(maxDepth, t.count)
            tokenNode.append(path[path.count - 1])
            prev = t
        }
        while let n = path.popLast() { subtreeEnd[Int(n)] = Int32(nodeByte.count) }
        var tokenStart = [Int32](repeating: 0, count: nodeByte.count + 1)
        for n in tokenNode { tokenStart[Int(n) + 1] += 1 }
        for i in 0..<nodeByte.count { tokenStart[i + 1] += tokenStart[i] }
        self.nodeByte = nodeByte
        self.nodeDepth = nodeDepth
        self.subtreeEnd = subtreeEnd
        self.tokenStart = tokenStart
        self.tokenIDs = ids  // already grouped by node in preorder
        self.maxDepth = maxDepth
        var inTrie = [Bool](repeating: false, count: tokens.count)
        for id in ids { inTrie[Int(id)] = true }
        self.inTrie = inTrie
        self.uniqueID = UInt64.random(in: 1...UInt64.max)
    }

    public func isEndOfGeneration(_ id: Int32) -> Bool { endOfGenerationSet.contains(id) }

    /// Whether a grammar can ever allow token `id` (it has bytes and is not a
    /// control, unused, unknown or end-of-generation token).
    public func isMatchable(_ id: Int32) -> Bool { id >= 0 && Int(id) < vocabularySize && inTrie[Int(id)] }

    /// The bytes of token `id` (empty for ids outside the vocabulary).
    public func bytes(of id: Int32) -> ArraySlice<UInt8> {
        guard id >= 0, Int(id) < vocabularySize else { return [] }
        return byteStorage[Int(byteOffsets[Int(id)])..<Int(byteOffsets[Int(id) + 1])]
    }
}

/// The set of tokens allowed next, as a bitset of `vocabularySize` bits.
public struct TokenMask: Sendable, Equatable {
    public var bits: [UInt64]
    public let vocabularySize: Int

    public init(bits: [UInt64], vocabularySize: Int) {
        self.bits = bits
        self.vocabularySize = vocabularySize
    }

    public func isAllowed(_ id: Int32) -> Bool {
        guard id >= 0, Int(id) < vocabularySize else { return false }
        return bits[Int(id) >> 6] & (1 << UInt64(Int(id) & 63)) != 0
    }

    public var allowedCount: Int { bits.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// Allowed ids, ascending.
    public var allowedIDs: [Int32] {
        var out: [Int32] = []
        for (w, word) in bits.enumerated() {
            var x = word
            while x != 0 {
                let b = x.trailingZeroBitCount
                out.append(Int32(w * 64 + b))
                x &= x - 1
            }
        }
        return out
    }

    /// Sets the logits of disallowed tokens to -infinity (entries beyond the
    /// vocabulary too).
    public func apply(to logits: UnsafeMutableBufferPointer<Float>) {
        let n = logits.count
        var i = 0
        for word in bits {
            if i >= n { break }
            if word == UInt64.max { i += 64; continue }
            let end = min(i + 64, n)
            var bit: UInt64 = 1
            while i < end {
                if word & bit == 0 { logits[i] = -.infinity }
                bit <<= 1
                i += 1
            }
        }
        while i < n { logits[i] = -.infinity; i += 1 }
    }
}

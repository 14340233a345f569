/// Hands out the KV cache's fixed-size blocks and remembers full blocks for automatic
/// prefix caching.
///
/// A block is in one of three states: referenced (refcount > 0, in some sequence's block
/// table), cached (refcount 0 but holding a registered full block, kept in LRU order so a
/// later request with the same prefix can take it back), or clean (refcount 0, nothing
/// worth keeping). Allocation prefers clean blocks and otherwise evicts the least recently
/// released cached block.
///
/// A full block is identified by a chained hash: hash(parent's hash, the block's tokens),
/// where the first block's parent is a salt made of the cache-isolation key and the LoRA
/// slot. A hit is only taken after checking the block's stored tokens and parent hash, so a
/// hash collision can never hand a sequence someone else's keys and values.
///
/// Not thread-safe: owned by the engine's step loop.
final class BlockManager {
    let blockSize: Int
    let blockCount: Int

    private var refCounts: [Int32]
    /// Registered blocks: their chain hash, their parent's, and their tokens.
    private var isRegistered: [Bool]
    private var hashes: [UInt64]
    private var parents: [UInt64]
    private var contents: [Int32]
    private var byHash: [UInt64: Int32] = [:]

    /// Clean blocks, taken from the end.
    private var clean: [Int32]
    /// Cached blocks in release order (an intrusive doubly linked list; -1 ends it).
    private var lruPrev: [Int32]
    private var lruNext: [Int32]
    private var lruHead: Int32 = -1
    private var lruTail: Int32 = -1
    private(set) var cachedCount = 0

    init(blockSize: Int, blockCount: Int) {
        precondition(blockSize > 0 && blockCount > 0)
        self.blockSize = blockSize
        self.blockCount = blockCount
        refCounts = Array(repeating: 0, count: blockCount)
        isRegistered = Array(repeating: false, count: blockCount)
        hashes = Array(repeating: 0, count: blockCount)
        parents = Array(repeating: 0, count: blockCount)
        contents = Array(repeating: 0, count: blockCount * blockSize)
        clean = (0..<Int32(blockCount)).reversed().map { $0 }
        lruPrev = Array(repeating: -1, count: blockCount)
        lruNext = Array(repeating: -1, count: blockCount)
    }

    /// Blocks that can be handed out now (clean or evictable).
    var freeCount: Int { clean.count + cachedCount }
    /// Blocks referenced by some sequence.
    var usedCount: Int { blockCount - freeCount }

    func blocksNeeded(forTokens n: Int) -> Int { (n + blockSize - 1) / blockSize }

    // MARK: hashing

    /// The salt every chain starts from: requests share cached blocks only when their
    /// isolation keys and LoRA slots are equal, and, with an adapter, when it is the same
    /// install of that slot (`adapterGeneration`), so a slot given a new adapter never
    /// serves blocks computed with the old one.
    static func salt(isolationKey: String?, loraSlot: Int32, adapterGeneration: UInt64 = 0) -> UInt64 {
        var h: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(UInt32(bitPattern: loraSlot))
        if adapterGeneration != 0 { h = mix(h ^ 0x2) ^ adapterGeneration }
        if let key = isolationKey {
            h = mix(h ^ 0x1)
            for byte in key.utf8 { h = mix(h ^ UInt64(byte)) }
            h = mix(h ^ UInt64(key.utf8.count))
        }
        return mix(h)
    }

    static func chainHash(parent: UInt64, tokens: ArraySlice<Int32>) -> UInt64 {
        var h = parent
        for t in tokens { h = mix(h ^ UInt64(UInt32(bitPattern: t))) }
        return h
    }

    /// splitmix64's finaliser: every input bit affects every output bit.
    @inline(__always) static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    // MARK: prefix cache

    /// Cached blocks holding the longest prefix of `tokens` in whole blocks, at most
    /// `maxBlocks`, verified token by token. `chain` holds the chain hash of each full block
    /// of `tokens` (extended by this call as far as it needs).
    func lookup(tokens: [Int32], salt: UInt64, chain: inout [UInt64], maxBlocks: Int) -> [Int32] {
        var hits: [Int32] = []
        let full = min(tokens.count / blockSize, maxBlocks)
        var parent = salt
        for b in 0..<full {
            let range = (b * blockSize)..<((b + 1) * blockSize)
            if chain.count == b { chain.append(Self.chainHash(parent: parent, tokens: tokens[range])) }
            let h = chain[b]
            guard let block = byHash[h], parents[Int(block)] == parent,
                  contents[(Int(block) * blockSize)..<(Int(block) * blockSize + blockSize)].elementsEqual(tokens[range])
            else { break }
            hits.append(block)
            parent = h
        }
        return hits
    }

    /// Of `blocks`, how many are cached but unreferenced (taking them uses up free blocks).
    func unreferencedCount(_ blocks: [Int32]) -> Int {
        blocks.reduce(0) { $0 + (refCounts[Int($1)] == 0 ? 1 : 0) }
    }

    /// Takes a reference to blocks found by `lookup`.
    func acquire(_ blocks: [Int32]) {
        for b in blocks {
            if refCounts[Int(b)] == 0 { unlinkFromLRU(b) }
            refCounts[Int(b)] += 1
        }
    }

    /// A fresh block (refcount 1), or nil when none is free.
    func allocate() -> Int32? {
        let block: Int32
        if let b = clean.popLast() {
            block = b
        } else if lruHead >= 0 {
            block = lruHead
            unlinkFromLRU(block)
            forget(block)
        } else {
            return nil
        }
        refCounts[Int(block)] = 1
        return block
    }

    /// Records that `block` now holds the full block `tokens` whose chain hash is `hash`.
    /// A block with the same hash already registered keeps its place (the duplicate simply
    /// is not cached).
    func register(_ block: Int32, hash: UInt64, parent: UInt64, tokens: ArraySlice<Int32>) {
        let i = Int(block)
        guard !isRegistered[i], byHash[hash] == nil else { return }
        isRegistered[i] = true
        hashes[i] = hash
        parents[i] = parent
        var j = i * blockSize
        for t in tokens { contents[j] = t; j += 1 }
        byHash[hash] = block
    }

    /// Drops one reference to each block. Blocks are released back to front, so a
    /// sequence's later blocks are evicted before its earlier ones (prefixes are the
    /// likeliest to be shared).
    func release<Blocks: BidirectionalCollection<Int32>>(_ blocks: Blocks) {
        for b in blocks.reversed() {
            let i = Int(b)
            precondition(refCounts[i] > 0, "block \(b) released more often than acquired")
            refCounts[i] -= 1
            if refCounts[i] == 0 {
                if isRegistered[i] { appendToLRU(b) } else { clean.append(b) }
            }
        }
    }

    private func forget(_ block: Int32) {
        let i = Int(block)
        guard isRegistered[i] else { return }
        isRegistered[i] = false
        if byHash[hashes[i]] == block { byHash[hashes[i]] = nil }
    }

    private func appendToLRU(_ b: Int32) {
        lruPrev[Int(b)] = lruTail
        lruNext[Int(b)] = -1
        if lruTail >= 0 { lruNext[Int(lruTail)] = b } else { lruHead = b }
        lruTail = b
        cachedCount += 1
    }

    private func unlinkFromLRU(_ b: Int32) {
        let p = lruPrev[Int(b)], n = lruNext[Int(b)]
        if p >= 0 { lruNext[Int(p)] = n } else { lruHead = n }
        if n >= 0 { lruPrev[Int(n)] = p } else { lruTail = p }
        lruPrev[Int(b)] = -1
        lruNext[Int(b)] = -1
        cachedCount -= 1
    }
}

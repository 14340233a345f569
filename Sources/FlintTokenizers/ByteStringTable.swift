/// An append-only table of byte strings with an open-addressing hash index, so that a
/// byte slice can be looked up without building a `String` or `Array` for it.
/// Entry indices are dense (0, 1, 2, ...). When the same bytes are appended twice the
/// index resolves to the later entry (llama.cpp's token_to_id behaves the same way).
struct ByteStringTable: Sendable {
    private(set) var storage: [UInt8] = []
    private(set) var offsets: [Int] = [0]
    private var slots: [Int32]
    private var mask: Int
    private var occupied = 0

    init(expectedCount: Int) {
        var capacity = 16
        while capacity < expectedCount * 2 { capacity <<= 1 }
        slots = Array(repeating: -1, count: capacity)
        mask = capacity - 1
        storage.reserveCapacity(expectedCount * 8)
        offsets.reserveCapacity(expectedCount + 1)
    }

    var count: Int { offsets.count - 1 }

    @inline(__always)
    static func hash(_ p: UnsafeBufferPointer<UInt8>) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in p { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        h ^= h >> 31
        h &*= 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    func bytes(_ index: Int) -> ArraySlice<UInt8> {
        storage[offsets[index]..<offsets[index + 1]]
    }

    /// Index of the entry whose bytes equal `p`, or -1.
    func find(_ p: UnsafeBufferPointer<UInt8>) -> Int32 {
        let h = Self.hash(p)
        return storage.withUnsafeBufferPointer { st in
            offsets.withUnsafeBufferPointer { off in
                slots.withUnsafeBufferPointer { sl in
                    var i = h & mask
                    while true {
                        let e = sl[i]
                        if e < 0 { return -1 }
                        let s = off[Int(e)]
                        if off[Int(e) + 1] - s == p.count {
                            var equal = true
                            var k = 0
                            while k < p.count {
                                if st[s + k] != p[k] { equal = false; break }
                                k += 1
                            }
                            if equal { return e }
                        }
                        i = (i + 1) & mask
                    }
                }
            }
        }
    }

    func find(_ bytes: [UInt8]) -> Int32 {
        bytes.withUnsafeBufferPointer { find($0) }
    }

    func find(_ string: String) -> Int32 {
        var s = string
        return s.withUTF8 { find($0) }
    }

    /// Appends a new entry and makes lookups of its bytes resolve to it.
    @discardableResult
    mutating func append<C: Collection>(_ bytes: C) -> Int32 where C.Element == UInt8 {
        let index = Int32(count)
        storage.append(contentsOf: bytes)
        offsets.append(storage.count)
        if (occupied + 1) * 2 > slots.count { grow() }
        insert(index)
        return index
    }

    /// Index of `bytes`, appending them first when absent.
    mutating func intern(_ bytes: [UInt8]) -> Int32 {
        let found = find(bytes)
        if found >= 0 { return found }
        return append(bytes)
    }

    private mutating func insert(_ index: Int32) {
        let s = offsets[Int(index)], e = offsets[Int(index) + 1]
        let h = storage.withUnsafeBufferPointer { Self.hash(UnsafeBufferPointer(rebasing: $0[s..<e])) }
        var i = h & mask
        while true {
            let other = slots[i]
            if other < 0 {
                slots[i] = index
                occupied += 1
                return
            }
            let os = offsets[Int(other)], oe = offsets[Int(other) + 1]
            if oe - os == e - s && storage[os..<oe].elementsEqual(storage[s..<e]) {
                slots[i] = index  // later entry wins
                return
            }
            i = (i + 1) & mask
        }
    }

    private mutating func grow() {
        let capacity = slots.count * 2
        slots = Array(repeating: -1, count: capacity)
        mask = capacity - 1
        occupied = 0
        for index in 0..<count { insert(Int32(index)) }
    }
}

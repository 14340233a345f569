/// Many short byte strings stored back to back (no per-string allocation).
struct PackedByteStrings: Sendable {
    private var storage: [UInt8] = []
    private var offsets: [Int] = [0]

    var count: Int { offsets.count - 1 }

    mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        storage.append(contentsOf: bytes)
        offsets.append(storage.count)
    }

    func bytes(_ index: Int) -> ArraySlice<UInt8> {
        storage[offsets[index]..<offsets[index + 1]]
    }
}

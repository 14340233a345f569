/// A cursor over untrusted bytes. Every read checks the remaining length first and
/// throws `GGUFError.truncated` naming what it was reading; nothing traps.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func require(_ n: Int, _ what: @autoclosure () -> String) throws {
        if n < 0 || n > remaining {
            throw GGUFError.truncated(offset: offset, need: n, fileSize: bytes.count, what: what())
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try require(MemoryLayout<T>.size, what())
        let v = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: v)
    }

    mutating func readF32(_ what: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    mutating func readF64(_ what: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }

    /// A GGUF string: u64 byte length, then UTF-8 bytes (no terminator).
    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let start = offset
        let len = try read(UInt64.self, what())
        guard len <= UInt64(remaining) else {
            throw GGUFError.truncated(offset: offset, need: Int(clamping: len), fileSize: bytes.count, what: what())
        }
        let n = Int(len)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
        guard let s = String(validating: slice, as: UTF8.self) else {
            throw GGUFError.invalidUTF8(offset: start, what: what())
        }
        offset += n
        return s
    }

    /// Checks that `count` elements of at least `minSize` bytes each can still fit,
    /// before anything is allocated for them.
    mutating func checkCount(_ count: UInt64, minSize: Int, _ what: @autoclosure () -> String) throws -> Int {
        let (total, overflow) = count.multipliedReportingOverflow(by: UInt64(minSize))
        if overflow || total > UInt64(remaining) {
            throw GGUFError.countTooLarge(count: count, offset: offset, what: what())
        }
        return Int(count)
    }
}

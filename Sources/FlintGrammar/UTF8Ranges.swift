/// Conversion of code point ranges to UTF-8 byte-range sequences, so that the
/// matcher can run purely on bytes while character classes still match whole
/// code points (the same splitting regex engines use).
enum UTF8Ranges {
    static let maxScalar: UInt32 = 0x10FFFF

    /// Sorted, merged ranges with surrogates removed.
    static func normalize(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var rs = ranges.map { $0.lowerBound...min($0.upperBound, maxScalar) }.filter { $0.lowerBound <= maxScalar }
        rs.sort { $0.lowerBound < $1.lowerBound }
        var out: [ClosedRange<UInt32>] = []
        for r in rs {
            if let last = out.last, r.lowerBound <= last.upperBound &+ 1 {
                out[out.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        // Remove surrogates.
        var res: [ClosedRange<UInt32>] = []
        for r in out {
            if r.upperBound < 0xD800 || r.lowerBound > 0xDFFF { res.append(r); continue }
            if r.lowerBound < 0xD800 { res.append(r.lowerBound...0xD7FF) }
            if r.upperBound > 0xDFFF { res.append(0xE000...r.upperBound) }
        }
        return res
    }

    /// Complement over all scalar values.
    static func complement(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        let rs = normalize(ranges)
        var out: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for r in rs {
            if r.lowerBound > next { out.append(next...(r.lowerBound - 1)) }
            next = r.upperBound &+ 1
        }
        if next <= maxScalar { out.append(next...maxScalar) }
        return normalize(out)
    }

    static func encode(_ c: UInt32) -> [UInt8] {
        switch c {
        case 0..<0x80: return [UInt8(c)]
        case 0x80..<0x800: return [UInt8(0xC0 | (c >> 6)), UInt8(0x80 | (c & 0x3F))]
        case 0x800..<0x10000:
            return [UInt8(0xE0 | (c >> 12)), UInt8(0x80 | ((c >> 6) & 0x3F)), UInt8(0x80 | (c & 0x3F))]
        default:
            return [UInt8(0xF0 | (c >> 18)), UInt8(0x80 | ((c >> 12) & 0x3F)),
                    UInt8(0x80 | ((c >> 6) & 0x3F)), UInt8(0x80 | (c & 0x3F))]
        }
    }

    static func encodedLength(_ c: UInt32) -> Int {
        c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4
    }

    /// Byte-range sequences whose union is exactly the UTF-8 encodings of the
    /// (normalized) code point ranges.
    static func sequences(_ ranges: [ClosedRange<UInt32>]) -> [[ClosedRange<UInt8>]] {
        var out: [[ClosedRange<UInt8>]] = []
        for r in normalize(ranges) {
            // Split at encoding-length boundaries.
            var lo = r.lowerBound
            for boundary: UInt32 in [0x7F, 0x7FF, 0xFFFF, 0x10FFFF] where lo <= r.upperBound {
                if lo > boundary { continue }
                let hi = min(r.upperBound, boundary)
                split(lo, hi, into: &out)
                lo = hi + 1
            }
        }
        return out
    }

    private static func split(_ lo: UInt32, _ hi: UInt32, into out: inout [[ClosedRange<UInt8>]]) {
        let n = encodedLength(lo)
        if n > 1 {
            for i in 1..<n {
                let m: UInt32 = (1 << (6 * UInt32(i))) - 1
                if lo & ~m != hi & ~m {
                    if lo & m != 0 {
                        split(lo, lo | m, into: &out)
                        split((lo | m) + 1, hi, into: &out)
                        return
                    }
                    if hi & m != m {
                        split(lo, (hi & ~m) - 1, into: &out)
                        split(hi & ~m, hi, into: &out)
                        return
                    }
                }
            }
        }
        let a = encode(lo), b = encode(hi)
        out.append(zip(a, b).map { $0...$1 })
    }
}

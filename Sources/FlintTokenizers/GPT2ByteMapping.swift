/// GPT-2's reversible byte <-> printable-character table used by byte-level BPE
/// vocabularies: printable Latin-1 bytes map to themselves, the other 68 bytes map to
/// U+0100 and following, in byte order.
enum GPT2ByteMapping {
    /// Unicode scalar value that each byte is written as.
    static let byteToScalar: [UInt32] = {
        var map = [UInt32](repeating: 0, count: 256)
        var isDirect = [Bool](repeating: false, count: 256)
        for b in 33...126 { isDirect[b] = true }
        for b in 161...172 { isDirect[b] = true }
        for b in 174...255 { isDirect[b] = true }
        var next: UInt32 = 256
        for b in 0..<256 {
            if isDirect[b] {
                map[b] = UInt32(b)
            } else {
                map[b] = next
                next += 1
            }
        }
        return map
    }()

    /// Inverse of `byteToScalar`, indexed by scalar value (< 324); -1 where unmapped.
    static let scalarToByte: [Int16] = {
        var inverse = [Int16](repeating: -1, count: 324)
        for b in 0..<256 { inverse[Int(byteToScalar[b])] = Int16(b) }
        return inverse
    }()

    /// UTF-8 encoding of the character each byte is written as.
    static let byteToUTF8: [[UInt8]] = byteToScalar.map { v in
        Array(String(Character(Unicode.Scalar(v)!)).utf8)
    }

    /// Decodes token text written in the byte-level alphabet back into raw bytes.
    /// Characters outside the alphabet are kept as their own UTF-8.
    static func decode(_ text: String, into out: inout [UInt8]) {
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v < 324, scalarToByte[Int(v)] >= 0 {
                out.append(UInt8(scalarToByte[Int(v)]))
            } else {
                out.append(contentsOf: String(scalar).utf8)
            }
        }
    }
}

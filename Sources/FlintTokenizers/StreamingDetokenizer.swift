/// Turns generated token ids into text incrementally. Each `append` returns the text that
/// became complete with that token; bytes of a UTF-8 sequence split across tokens are held
/// back until the sequence is complete, so no partial character is ever emitted. Call
/// `flush()` at the end to emit whatever is still held (incomplete sequences become U+FFFD).
///
/// The concatenation of everything returned equals `tokenizer.decode(ids, skipSpecial:)`
/// for well-formed output (no leading-space removal is applied: a streamed continuation
/// keeps its first space).
public struct StreamingDetokenizer: Sendable {
    public let tokenizer: Tokenizer
    public let skipSpecial: Bool
    private var pending: [UInt8] = []

    public init(tokenizer: Tokenizer, skipSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecial = skipSpecial
    }

    /// Bytes received but not yet emitted (an incomplete UTF-8 sequence).
    public var pendingByteCount: Int { pending.count }

    public mutating func append(_ id: Int32) -> String {
        tokenizer.appendPiece(id, skipSpecial: skipSpecial, removeLeadingSpace: false, to: &pending)
        let complete = Self.completePrefixLength(pending)
        if complete == 0 { return "" }
        let text = String(decoding: pending[0..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    public mutating func append<S: Sequence>(contentsOf ids: S) -> String where S.Element == Int32 {
        var text = ""
        for id in ids { text += append(id) }
        return text
    }

    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the longest prefix that does not end inside an incomplete (but so far
    /// valid) UTF-8 sequence.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        // Look back at most 3 bytes for the lead byte of the last sequence.
        var i = n - 1
        var continuation = 0
        while i >= 0 && n - i <= 4 {
            let b = bytes[i]
            if b & 0xC0 == 0x80 {
                continuation += 1
                i -= 1
                continue
            }
            let needed: Int
            switch b {
            case 0xC2...0xDF: needed = 2
            case 0xE0...0xEF: needed = 3
            case 0xF0...0xF4: needed = 4
            default: return n  // ASCII or an invalid lead byte: nothing to wait for
            }
            return continuation + 1 < needed ? i : n
        }
        return n
    }
}

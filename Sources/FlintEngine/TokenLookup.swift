/// A proposer without a model: it finds where the sequence's latest tokens occur in a
/// reference and proposes the tokens that follow there. The reference is the request's
/// predicted output (OpenAI's `prediction`) or the sequence's own prompt and output so
/// far (prompt lookup, `--speculative ngram`).
///
/// While the output follows the reference, a cursor simply advances with it. When the
/// output leaves the reference (an edit inserts or deletes text), it is looked for again,
/// near the last place the output was in step (the anchor) first, since edits move forward
/// through a file: the longest suffix of the output, from `minMatch` to `maxMatch` tokens,
/// within `ahead` tokens after the anchor; else the output's last token alone within
/// `nearby` tokens after it (a renamed identifier is followed by what followed the old
/// name); else that longest suffix anywhere (the first occurrence after the anchor, else
/// the last before it). A prediction with no match at all falls back to the anchor: the
/// output may be about to resume it after an insertion (or to start it, after a preamble
/// such as a code fence). The order matters for prompt lookup on an edit, whose
/// instruction often names the new text: a match there is a jump out of the file.
struct TokenLookup {
    enum Reference {
        /// The predicted output's tokens.
        case prediction([Int32])
        /// The sequence's own tokens (prompt lookup).
        case history
    }

    let reference: Reference
    static let minMatch = 2
    static let maxMatch = 8
    static let nearby = 16
    static let ahead = 512
    /// Index in the reference of the token expected next, while the output follows it.
    private var cursor: Int?
    /// Where the output was last in step with the reference.
    private var anchor = 0
    /// Tokens of the sequence already compared with the reference.
    private var seen: Int

    /// A lookup over `reference` for a sequence whose output starts after `promptCount` tokens.
    init(_ reference: Reference, promptCount: Int) {
        self.reference = reference
        seen = promptCount
        // A prediction is expected from its first token on; prompt lookup starts searching.
        if case .prediction = reference { cursor = 0 }
    }

    /// Up to `limit` tokens proposed to follow `tokens`, into `out` (cleared first).
    mutating func propose(after tokens: [Int32], limit: Int, into out: inout [Int32]) {
        out.removeAll(keepingCapacity: true)
        switch reference {
        case .prediction(let p): propose(reference: p, searchEnd: p.count, after: tokens, limit: limit, into: &out)
        case .history: propose(reference: tokens, searchEnd: tokens.count - 1, after: tokens, limit: limit, into: &out)
        }
    }

    /// `searchEnd`: matches must end before this index of `reference` (for the history,
    /// a match must leave a token after it that is not the suffix itself).
    private mutating func propose(reference ref: [Int32], searchEnd: Int, after tokens: [Int32], limit: Int, into out: inout [Int32]) {
        // Follow the tokens appended since the last call.
        while seen < tokens.count {
            if let c = cursor, c < ref.count, ref[c] == tokens[seen] {
                cursor = c + 1
                anchor = c + 1
            } else {
                cursor = nil
            }
            seen += 1
        }
        if cursor == nil {
            let (ahead, anywhere) = search(ref, end: searchEnd, suffixOf: tokens)
            cursor = ahead
            if cursor == nil, let last = tokens.last, anchor < searchEnd {
                let window = ref[anchor..<min(searchEnd, anchor + Self.nearby)]
                cursor = window.firstIndex(of: last).map { $0 + 1 }
            }
            if cursor == nil { cursor = anywhere }
            if cursor == nil, case .prediction = reference { cursor = anchor }
        }
        guard let c = cursor, limit > 0 else { return }
        let end = min(c + limit, ref.count)
        if c < end { out.append(contentsOf: ref[c..<end]) }
    }

    /// Index after the best occurrence in `ref[..<end]` of the longest suffix of `tokens`
    /// (`minMatch...maxMatch` long) within `ahead` tokens after the anchor, and anywhere.
    private func search(_ ref: [Int32], end: Int, suffixOf tokens: [Int32]) -> (ahead: Int?, anywhere: Int?) {
        let longest = min(Self.maxMatch, tokens.count)
        guard longest >= Self.minMatch, end >= Self.minMatch else { return (nil, nil) }
        var bestLength = 0, best = -1, aheadLength = 0, ahead = -1
        ref.withUnsafeBufferPointer { r in
            tokens.withUnsafeBufferPointer { t in
                let last = t.count - 1
                // j: index after a candidate occurrence (the proposal starts at r[j]).
                for j in Self.minMatch...min(end, r.count) where r[j - 1] == t[last] {
                    var n = 1
                    while n < longest && n < j && r[j - 1 - n] == t[last - n] { n += 1 }
                    guard n >= Self.minMatch else { continue }
                    if j >= anchor && j - anchor <= Self.ahead && n > aheadLength { (aheadLength, ahead) = (n, j) }
                    // Longer wins; among equals, the first at or after the anchor, else the latest before it.
                    if n > bestLength || (n == bestLength && best < anchor) { (bestLength, best) = (n, j) }
                }
            }
        }
        return (ahead < 0 ? nil : ahead, best < 0 ? nil : best)
    }
}

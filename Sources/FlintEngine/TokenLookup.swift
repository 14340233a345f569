/// A proposer without a model: it finds where the sequence's latest tokens occur in a
/// reference and proposes the tokens that follow there. The reference is the request's
/// predicted output (OpenAI's `prediction`) or the sequence's own prompt and output so
/// far (prompt lookup, `--speculative ngram`).
///
/// While the output follows the reference, a cursor simply advances with it. When the
/// output leaves the reference (an edit inserts or deletes text), the longest suffix of the
/// output, from `minMatch` to `maxMatch` tokens, is looked up in the reference; of its
/// occurrences the first at or after the last place the output was in step wins, else
/// the last before it, so edits re-synchronize forward through a file. A prediction
/// with no match falls back to that last place: the output may be about to resume it
/// after an insertion (or to start it, after a preamble such as a code fence).
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
            cursor = search(ref, end: searchEnd, suffixOf: tokens)
            if cursor == nil, case .prediction = reference { cursor = anchor }
        }
        guard let c = cursor, limit > 0 else { return }
        let end = min(c + limit, ref.count)
        if c < end { out.append(contentsOf: ref[c..<end]) }
    }

    /// Index after the best occurrence in `ref[..<end]` of the longest suffix of `tokens`
    /// (`minMatch...maxMatch` long), or nil.
    private func search(_ ref: [Int32], end: Int, suffixOf tokens: [Int32]) -> Int? {
        let longest = min(Self.maxMatch, tokens.count)
        guard longest >= Self.minMatch, end >= Self.minMatch else { return nil }
        var bestLength = 0, best = -1
        ref.withUnsafeBufferPointer { r in
            tokens.withUnsafeBufferPointer { t in
                let last = t.count - 1
                // j: index after a candidate occurrence (the proposal starts at r[j]).
                for j in Self.minMatch...min(end, r.count) where r[j - 1] == t[last] {
                    var n = 1
                    while n < longest && n < j && r[j - 1 - n] == t[last - n] { n += 1 }
                    guard n >= Self.minMatch, n >= bestLength else { continue }
                    // Longer wins; among equals, the first at or after the anchor, else the latest before it.
                    if n > bestLength || best < anchor { (bestLength, best) = (n, j) }
                }
            }
        }
        return best < 0 ? nil : best
    }
}

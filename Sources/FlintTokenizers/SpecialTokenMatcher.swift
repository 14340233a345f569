/// A piece of input after special-token partitioning.
enum TextFragment: Equatable {
    /// Raw text to segment: a byte range of the input.
    case text(Range<Int>)
    /// A special token recognised in the input.
    case token(Int32)
}

/// Finds special-token text (control, user-defined and unknown tokens) in input bytes,
/// with the result of llama.cpp's tokenizer_st_partition: special tokens are applied one
/// after another, longest text first, each splitting every remaining raw-text fragment at
/// its leftmost non-overlapping occurrences. A byte trie finds which special tokens occur
/// at all, so only those are searched for.
struct SpecialTokenMatcher: Sendable {
    /// Special token ids in application order (longest text first, then lower id).
    private let ordered: [Int32]
    /// Token bytes, per entry of `ordered`.
    private let texts: [[UInt8]]
    /// Whether each entry of `ordered` is recognised without parseSpecial (user-defined).
    private let alwaysRecognised: [Bool]
    /// Trie edges: key (node << 8 | byte) -> child node. Node 0 is the root.
    private let edges: [Int: Int32]
    /// Per trie node: index into `ordered` of the token ending there, or -1.
    private let terminal: [Int32]

    var isEmpty: Bool { ordered.isEmpty }

    init(tokens: [(id: Int32, text: [UInt8], alwaysRecognised: Bool)]) {
        let sorted = tokens.filter { !$0.text.isEmpty }.sorted {
            $0.text.count != $1.text.count ? $0.text.count > $1.text.count : $0.id < $1.id
        }
        ordered = sorted.map(\.id)
        texts = sorted.map(\.text)
        alwaysRecognised = sorted.map(\.alwaysRecognised)
        var edges: [Int: Int32] = [:]
        var terminal: [Int32] = [-1]
        for (rank, entry) in sorted.enumerated() {
            var node = 0
            for b in entry.text {
                let key = node << 8 | Int(b)
                if let child = edges[key] {
                    node = Int(child)
                } else {
                    terminal.append(-1)
                    let child = terminal.count - 1
                    edges[key] = Int32(child)
                    node = child
                }
            }
            if terminal[node] < 0 { terminal[node] = Int32(rank) }
        }
        self.edges = edges
        self.terminal = terminal
    }

    func partition(_ bytes: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [TextFragment] {
        let n = bytes.count
        if n == 0 { return [] }
        if ordered.isEmpty { return [.text(0..<n)] }

        // Which special tokens occur anywhere in the text?
        var occurring = Set<Int>()
        for start in 0..<n {
            var node = 0
            var i = start
            while i < n, let child = edges[node << 8 | Int(bytes[i])] {
                node = Int(child)
                let rank = terminal[node]
                if rank >= 0 && (parseSpecial || alwaysRecognised[Int(rank)]) {
                    occurring.insert(Int(rank))
                }
                i += 1
            }
        }
        if occurring.isEmpty { return [.text(0..<n)] }

        var fragments: [TextFragment] = [.text(0..<n)]
        for rank in occurring.sorted() {
            let pattern = texts[rank]
            let id = ordered[rank]
            var next: [TextFragment] = []
            next.reserveCapacity(fragments.count + 4)
            for fragment in fragments {
                guard case .text(let range) = fragment else {
                    next.append(fragment)
                    continue
                }
                var cursor = range.lowerBound
                var i = range.lowerBound
                let last = range.upperBound - pattern.count
                let first = pattern[0]
                while i <= last {
                    if bytes[i] == first {
                        var k = 1
                        while k < pattern.count && bytes[i + k] == pattern[k] { k += 1 }
                        if k == pattern.count {
                            if i > cursor { next.append(.text(cursor..<i)) }
                            next.append(.token(id))
                            i += pattern.count
                            cursor = i
                            continue
                        }
                    }
                    i += 1
                }
                if cursor < range.upperBound { next.append(.text(cursor..<range.upperBound)) }
            }
            fragments = next
        }
        return fragments
    }
}

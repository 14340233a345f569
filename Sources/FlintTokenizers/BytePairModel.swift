/// Byte-level BPE (llama.cpp's llm_tokenizer_bpe): each pre-tokenized word is written in
/// the GPT-2 byte alphabet, split into one symbol per byte, and the adjacent pair with the
/// lowest merge rank (leftmost on ties) is merged until no ranked pair remains.
///
/// Symbols carry interned string ids: vocabulary strings use their token id; strings that
/// only occur in merges get ids past the vocabulary, so merging never builds strings.
struct BytePairModel: Sendable {
    let preTokenizer: PreTokenizer
    /// (left id << 32 | right id) -> (rank << 32 | merged id)
    private let merges: [UInt64: UInt64]
    /// Interned id of the alphabet character each byte is written as (-1: unknown).
    private let byteSymbol: [Int32]
    /// Token of the single alphabet character for a byte when that character is ASCII
    /// (llama.cpp's fallback for a merged symbol that is not a token), else -1.
    private let asciiFallback: [Int32]
    private let vocabularySize: Int32

    /// Builds merge tables; extends `table` with merge-only strings.
    init(preTokenizer: PreTokenizer, merges mergeLines: [String], table: inout ByteStringTable, vocabularySize: Int) {
        self.preTokenizer = preTokenizer
        self.vocabularySize = Int32(vocabularySize)
        var merges: [UInt64: UInt64] = [:]
        merges.reserveCapacity(mergeLines.count)
        for (rank, line) in mergeLines.enumerated() {
            var line = line
            line.withUTF8 { u in
                // llama.cpp splits at the first space after the first byte.
                guard u.count >= 3 else { return }
                var split = -1
                for i in 1..<u.count where u[i] == 0x20 {
                    split = i
                    break
                }
                guard split > 0, split + 1 < u.count else { return }
                let left = Array(u[0..<split])
                let right = Array(u[(split + 1)...])
                let leftID = table.intern(left)
                let rightID = table.intern(right)
                let mergedID = table.intern(left + right)
                let key = UInt64(UInt32(bitPattern: leftID)) << 32 | UInt64(UInt32(bitPattern: rightID))
                if merges[key] == nil {
                    merges[key] = UInt64(UInt32(rank)) << 32 | UInt64(UInt32(bitPattern: mergedID))
                }
            }
        }
        self.merges = merges
        var byteSymbol = [Int32](repeating: -1, count: 256)
        var asciiFallback = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            let utf8 = GPT2ByteMapping.byteToUTF8[b]
            byteSymbol[b] = table.find(utf8)
            if utf8.count == 1 {
                let id = table.find(utf8)
                if id >= 0 && id < Int32(vocabularySize) { asciiFallback[b] = id }
            }
        }
        self.byteSymbol = byteSymbol
        self.asciiFallback = asciiFallback
    }

    struct Bigram: HeapElement {
        var rank: Int32
        var left: Int32
        var right: Int32
        var leftID: Int32
        var rightID: Int32
        var mergedID: Int32
        static func precedes(_ a: Bigram, _ b: Bigram) -> Bool {
            a.rank < b.rank || (a.rank == b.rank && a.left < b.left)
        }
    }

    /// Reusable per-call buffers.
    struct Scratch {
        var ids: [Int32] = []
        var starts: [Int32] = []
        var lengths: [Int32] = []
        var prev: [Int32] = []
        var next: [Int32] = []
        var heap = BinaryHeap<Bigram>()
        var mapped: [UInt8] = []
        var cps: [UInt32] = []
        var flags: [UInt8] = []
        var byteOffsets: [Int] = []
    }

    /// Tokenizes one raw-text fragment (valid UTF-8) and appends the ids to `output`.
    func encode(_ text: UnsafeBufferPointer<UInt8>, table: ByteStringTable, scratch: inout Scratch,
                output: inout [Int32]) {
        if text.isEmpty { return }
        // Decode to scalars with their classes and byte offsets.
        scratch.cps.removeAll(keepingCapacity: true)
        scratch.flags.removeAll(keepingCapacity: true)
        scratch.byteOffsets.removeAll(keepingCapacity: true)
        var i = 0
        while i < text.count {
            let (scalar, length) = UTF8Scan.decode(text, at: i)
            scratch.cps.append(scalar)
            scratch.flags.append(ScalarClass.flags(scalar))
            scratch.byteOffsets.append(i)
            i += length
        }
        scratch.byteOffsets.append(text.count)
        let ends = scratch.cps.withUnsafeBufferPointer { cps in
            scratch.flags.withUnsafeBufferPointer { flags in
                preTokenizer.split(cps: cps, flags: flags)
            }
        }
        var start = 0
        for end in ends {
            let lo = scratch.byteOffsets[start], hi = scratch.byteOffsets[end]
            encodeWord(UnsafeBufferPointer(rebasing: text[lo..<hi]), table: table, scratch: &scratch, output: &output)
            start = end
        }
    }

    private func encodeWord(_ word: UnsafeBufferPointer<UInt8>, table: ByteStringTable, scratch: inout Scratch,
                            output: inout [Int32]) {
        let n = word.count
        if n == 0 { return }
        if preTokenizer.ignoreMerges {
            scratch.mapped.removeAll(keepingCapacity: true)
            for b in word { scratch.mapped.append(contentsOf: GPT2ByteMapping.byteToUTF8[Int(b)]) }
            let id = table.find(scratch.mapped)
            if id >= 0 && id < vocabularySize {
                output.append(id)
                return
            }
        }
        if n == 1 {
            emit(symbolID: byteSymbol[Int(word[0])], bytes: word, output: &output)
            return
        }
        scratch.ids.removeAll(keepingCapacity: true)
        scratch.starts.removeAll(keepingCapacity: true)
        scratch.lengths.removeAll(keepingCapacity: true)
        scratch.prev.removeAll(keepingCapacity: true)
        scratch.next.removeAll(keepingCapacity: true)
        for k in 0..<n {
            scratch.ids.append(byteSymbol[Int(word[k])])
            scratch.starts.append(Int32(k))
            scratch.lengths.append(1)
            scratch.prev.append(Int32(k - 1))
            scratch.next.append(k + 1 < n ? Int32(k + 1) : -1)
        }
        scratch.heap.removeAll()
        for k in 1..<n { addBigram(Int32(k - 1), Int32(k), scratch: &scratch) }
        while let bigram = scratch.heap.pop() {
            let l = Int(bigram.left), r = Int(bigram.right)
            if scratch.lengths[l] == 0 || scratch.lengths[r] == 0 { continue }
            if scratch.ids[l] != bigram.leftID || scratch.ids[r] != bigram.rightID { continue }
            scratch.ids[l] = bigram.mergedID
            scratch.lengths[l] += scratch.lengths[r]
            scratch.lengths[r] = 0
            let after = scratch.next[r]
            scratch.next[l] = after
            if after >= 0 { scratch.prev[Int(after)] = Int32(l) }
            addBigram(scratch.prev[l], Int32(l), scratch: &scratch)
            addBigram(Int32(l), after, scratch: &scratch)
        }
        var k: Int32 = 0
        while k >= 0 {
            let s = Int(scratch.starts[Int(k)]), len = Int(scratch.lengths[Int(k)])
            if len > 0 {
                emit(symbolID: scratch.ids[Int(k)], bytes: UnsafeBufferPointer(rebasing: word[s..<(s + len)]),
                     output: &output)
            }
            k = scratch.next[Int(k)]
        }
    }

    @inline(__always)
    private func addBigram(_ left: Int32, _ right: Int32, scratch: inout Scratch) {
        if left < 0 || right < 0 { return }
        let leftID = scratch.ids[Int(left)], rightID = scratch.ids[Int(right)]
        if leftID < 0 || rightID < 0 { return }
        let key = UInt64(UInt32(bitPattern: leftID)) << 32 | UInt64(UInt32(bitPattern: rightID))
        guard let value = merges[key] else { return }
        scratch.heap.push(Bigram(rank: Int32(truncatingIfNeeded: value >> 32), left: left, right: right,
                                 leftID: leftID, rightID: rightID,
                                 mergedID: Int32(bitPattern: UInt32(truncatingIfNeeded: value))))
    }

    @inline(__always)
    private func emit(symbolID: Int32, bytes: UnsafeBufferPointer<UInt8>, output: inout [Int32]) {
        if symbolID >= 0 && symbolID < vocabularySize {
            output.append(symbolID)
            return
        }
        // Not a token (merge result missing from the vocabulary, or an unknown byte
        // character): like llama.cpp, emit the single-character tokens that exist.
        for b in bytes where asciiFallback[Int(b)] >= 0 {
            output.append(asciiFallback[Int(b)])
        }
    }
}

/// Minimal, total UTF-8 decoding helpers.
enum UTF8Scan {
    /// Sequence length implied by a lead byte (llama.cpp's unicode_len_utf8 table:
    /// continuation and invalid bytes count as 1).
    @inline(__always)
    static func sequenceLength(_ lead: UInt8) -> Int {
        switch lead >> 4 {
        case 0xC, 0xD: return 2
        case 0xE: return 3
        case 0xF: return 4
        default: return 1
        }
    }

    /// Decodes the scalar at `i`; malformed input yields U+FFFD with length 1.
    @inline(__always)
    static func decode(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> (UInt32, Int) {
        let b0 = p[i]
        if b0 < 0x80 { return (UInt32(b0), 1) }
        let length = sequenceLength(b0)
        guard length > 1, i + length <= p.count else { return (0xFFFD, 1) }
        var value: UInt32
        switch length {
        case 2: value = UInt32(b0 & 0x1F)
        case 3: value = UInt32(b0 & 0x0F)
        default: value = UInt32(b0 & 0x07)
        }
        for k in 1..<length {
            let b = p[i + k]
            guard b & 0xC0 == 0x80 else { return (0xFFFD, 1) }
            value = value << 6 | UInt32(b & 0x3F)
        }
        return (value, length)
    }
}

/// SentencePiece BPE as llama.cpp's llm_tokenizer_spm runs it: the text (spaces already
/// written as "▁") is split into UTF-8 characters, then the adjacent pair whose
/// concatenation is a vocabulary token with the highest score (leftmost on ties) is merged
/// repeatedly. Symbols that are not tokens are emitted as `<0xNN>` byte tokens.
struct SentencePieceModel: Sendable {
    /// Token for each byte: `<0xNN>`, else the one-byte string, else the unknown token, else -1.
    let byteTokens: [Int32]
    private let vocabularySize: Int32

    init(table: ByteStringTable, vocabularySize: Int, unknownID: Int32?) {
        self.vocabularySize = Int32(vocabularySize)
        let hex = Array("0123456789ABCDEF".utf8)
        var byteTokens = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            let name: [UInt8] = [0x3C, 0x30, 0x78, hex[b >> 4], hex[b & 15], 0x3E]  // <0xNN>
            var id = table.find(name)
            if id < 0 || id >= Int32(vocabularySize) { id = table.find([UInt8(b)]) }
            if id < 0 || id >= Int32(vocabularySize) { id = unknownID ?? -1 }
            byteTokens[b] = id
        }
        self.byteTokens = byteTokens
    }

    struct Bigram: HeapElement {
        var score: Float
        var left: Int32
        var right: Int32
        var size: Int32
        static func precedes(_ a: Bigram, _ b: Bigram) -> Bool {
            a.score > b.score || (a.score == b.score && a.left < b.left)
        }
    }

    struct Scratch {
        var starts: [Int32] = []
        var lengths: [Int32] = []
        var prev: [Int32] = []
        var next: [Int32] = []
        var heap = BinaryHeap<Bigram>()
        var text: [UInt8] = []
    }

    func encode(_ text: UnsafeBufferPointer<UInt8>, table: ByteStringTable, scores: [Float],
                scratch: inout Scratch, output: inout [Int32]) {
        let n = text.count
        if n == 0 { return }
        scratch.starts.removeAll(keepingCapacity: true)
        scratch.lengths.removeAll(keepingCapacity: true)
        scratch.prev.removeAll(keepingCapacity: true)
        scratch.next.removeAll(keepingCapacity: true)
        var offset = 0
        var index: Int32 = 0
        while offset < n {
            let length = min(UTF8Scan.sequenceLength(text[offset]), n - offset)
            scratch.starts.append(Int32(offset))
            scratch.lengths.append(Int32(length))
            scratch.prev.append(index - 1)
            offset += length
            scratch.next.append(offset == n ? -1 : index + 1)
            index += 1
        }
        scratch.heap.removeAll()
        let count = Int(index)
        if count > 1 {
            for k in 1..<count { addBigram(Int32(k - 1), Int32(k), text, table, scores, &scratch) }
        }
        while let bigram = scratch.heap.pop() {
            let l = Int(bigram.left), r = Int(bigram.right)
            if scratch.lengths[l] == 0 || scratch.lengths[r] == 0
                || scratch.lengths[l] + scratch.lengths[r] != bigram.size {
                continue
            }
            scratch.lengths[l] += scratch.lengths[r]
            scratch.lengths[r] = 0
            let after = scratch.next[r]
            scratch.next[l] = after
            if after >= 0 { scratch.prev[Int(after)] = Int32(l) }
            addBigram(scratch.prev[l], Int32(l), text, table, scores, &scratch)
            addBigram(Int32(l), after, text, table, scores, &scratch)
        }
        var k: Int32 = 0
        while k >= 0 {
            let s = Int(scratch.starts[Int(k)]), len = Int(scratch.lengths[Int(k)])
            if len > 0 {
                let piece = UnsafeBufferPointer(rebasing: text[s..<(s + len)])
                let id = table.find(piece)
                if id >= 0 && id < vocabularySize {
                    output.append(id)
                } else {
                    for b in piece where byteTokens[Int(b)] >= 0 { output.append(byteTokens[Int(b)]) }
                }
            }
            k = scratch.next[Int(k)]
        }
    }

    @inline(__always)
    private func addBigram(_ left: Int32, _ right: Int32, _ text: UnsafeBufferPointer<UInt8>,
                           _ table: ByteStringTable, _ scores: [Float], _ scratch: inout Scratch) {
        if left < 0 || right < 0 { return }
        let s = Int(scratch.starts[Int(left)])
        let size = Int(scratch.lengths[Int(left)] + scratch.lengths[Int(right)])
        let id = table.find(UnsafeBufferPointer(rebasing: text[s..<(s + size)]))
        if id < 0 || id >= vocabularySize { return }
        let score = Int(id) < scores.count ? scores[Int(id)] : 0
        scratch.heap.push(Bigram(score: score, left: left, right: right, size: Int32(size)))
    }
}

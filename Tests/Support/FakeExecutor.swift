import FlintEngine
import FlintModels
import FlintTokenizers
import Foundation

/// A model stand-in whose "KV cache" stores the token written at each slot and whose next
/// token is a hash of the whole sequence as read back through the block table. Greedy
/// output is therefore a function of the true token sequence exactly when every block
/// table, prefix-cache hit and preemption put the right tokens in the right slots.
public final class FakeExecutor: ModelExecutor, @unchecked Sendable {
    public let vocabularySize = 64
    public let blockSize: Int
    private var slots: [Int32]
    private var logits: [Float] = []
    /// Pause per forward pass, to hold requests in the queue.
    public var delay: TimeInterval = 0
    /// The predicted token's logit (every other token's is 0): at temperature 1 it is drawn
    /// with probability e^peak / (e^peak + 63).
    public var peak: Float = 1
    public private(set) var passes = 0
    public private(set) var maxRowsInPass = 0
    /// Every pass's batch entries, as their row counts (a decode is 1, a prompt piece more).
    public private(set) var passEntries: [[Int]] = []

    public init(blockSize: Int, blockCount: Int) {
        self.blockSize = blockSize
        slots = Array(repeating: -1, count: blockSize * blockCount)
    }

    /// The token the fake model predicts after `tokens` (tokens 16..<64, never end of generation).
    public static func next(after tokens: some Collection<Int32>) -> Int32 {
        var h: UInt64 = 1469598103934665603
        for t in tokens { h = (h ^ UInt64(t)) &* 1099511628211 }
        return 16 + Int32(h % 48)
    }

    public func execute(_ batch: ForwardBatch) -> UnsafeBufferPointer<Float> {
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        passes += 1
        maxRowsInPass = max(maxRowsInPass, batch.tokenCount)
        passEntries.append(batch.sequences.map(\.count))
        for (row, slot) in batch.slots.enumerated() { slots[Int(slot)] = batch.tokens[row] }
        logits = Array(repeating: 0, count: batch.logitRows.count * vocabularySize)
        for (i, row) in batch.logitRows.enumerated() {
            let table = Int(batch.blockTableStart[Int(batch.rowSequence[Int(row)])])
            let position = Int(batch.positions[Int(row)])
            let history = (0...position).map { p in slots[Int(batch.blockTables[table + p / blockSize]) * blockSize + p % blockSize] }
            logits[i * vocabularySize + Int(Self.next(after: history))] = peak
        }
        return logits.withUnsafeBufferPointer { UnsafeBufferPointer(start: $0.baseAddress, count: $0.count) }
    }

    /// A 64-token SentencePiece vocabulary for the fake model, so engine and server tests
    /// run without a model file: 0 <unk>, 1 <s>, 2 </s> (end of generation), 3 "▁", 4–29
    /// a–z, 30–55 A–Z, 56–63 0–7. The fake model's tokens (16..<64) are letters and digits.
    public static let tokenizer: Tokenizer = {
        let letters = (UInt8(ascii: "a")...UInt8(ascii: "z")).map { String(UnicodeScalar($0)) }
        let capitals = letters.map { $0.uppercased() }
        let digits = (0..<8).map(String.init)
        let tokens = ["<unk>", "<s>", "</s>", "▁"] + letters + capitals + digits
        var types = [TokenType](repeating: .normal, count: tokens.count)
        types[0] = .unknown
        types[1] = .control
        types[2] = .control
        return try! Tokenizer(vocabulary: TokenizerVocabulary(
            model: .sentencePiece, tokens: tokens, scores: Array(repeating: -1, count: tokens.count), tokenTypes: types,
            bosID: 1, eosID: 2, unknownID: 0, addBOS: false, addSpacePrefix: false))
    }()
}

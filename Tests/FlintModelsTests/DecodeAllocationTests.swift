import CAllocationCounter
import FlintLoading
import FlintModels
import FlintTestSupport
import XCTest

/// The decode hot path allocates nothing: once the context's scratch buffers have grown to
/// the batch's size, a forward pass of one new token per sequence makes no call to the C
/// allocator on any thread (counted by interposing malloc and friends).
final class DecodeAllocationTests: XCTestCase {
    func testSmolLM2() throws { try check("smollm2-135m-instruct") }
    func testGemma3() throws { try check("gemma-3-270m") }
    func testQwen2() throws { try check("qwen2.5-coder-0.5b-instruct") }

    private func check(_ name: String) throws {
        let model = try ModelRegistry.load(try GGUFFile(path: try TestModels.path(name)))
        let blockSize = 16
        for (type, sequences) in KVCacheType.allCases.flatMap({ t in [1, 32].map { (t, $0) } }) {
            let context = ForwardContext(threads: 2)
            let blocksPerSequence = 4
            let cache = KVCache(shape: model.shape, blockSize: blockSize, blockCount: sequences * blocksPerSequence, type: type)
            let tables = (0..<sequences).map { s in (0..<blocksPerSequence).map { Int32(s * blocksPerSequence + $0) } }
            var batch = ForwardBatch()
            func decode(at position: Int) -> Float {
                batch.removeAll()
                for s in 0..<sequences {
                    batch.append(tokens: [Int32(100 + s)], startPosition: position, blockTable: tables[s], blockSize: blockSize)
                }
                // The token arrays above are the caller's; only the pass itself is measured.
                flint_allocation_counting(1)
                let logits = model.forward(batch, cache: cache, context: context)
                flint_allocation_counting(0)
                return logits[0]
            }
            // Warm-up: scratch buffers grow to this batch size (and past the first KV blocks).
            for p in 0..<20 { _ = decode(at: p) }
            var counts: [Int] = []
            for p in 20..<24 {
                _ = decode(at: p)
                counts.append(flint_allocation_count())
            }
            XCTAssertEqual(counts, [0, 0, 0, 0], "\(name), \(type) KV, \(sequences) sequences: allocations per decode step")
        }
    }

    func testTheCounterSeesAllocations() {
        flint_allocation_counting(1)
        let array = (0..<1000).map { $0 * 2 }
        flint_allocation_counting(0)
        XCTAssertEqual(array.count, 1000)
        XCTAssertGreaterThan(flint_allocation_count(), 0)
    }
}

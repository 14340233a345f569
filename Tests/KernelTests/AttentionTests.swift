import CFlintKernels
import FlintTestSupport
import XCTest

/// Every vectorized attention path gives bit-identical results to the scalar reference
/// (same rounding sequence per score), over scattered KV blocks, GQA, causal rows and
/// sliding windows.
final class AttentionTests: XCTestCase {
    private func run(headDim: Int, heads: Int, kvHeads: Int, positions: [Int32], window: Int32, isa: String, prompt: Bool,
                     q: [Float], k: [UInt16], v: [UInt16], table: [Int32], blockSize: Int32) -> [Float] {
        var out: [Float] = []
        withISA(isa) {
            out = run(headDim: headDim, heads: heads, kvHeads: kvHeads, positions: positions, window: window, prompt: prompt,
                      q: q, k: k, v: v, table: table, blockSize: blockSize)
        }
        return out
    }

    private func run(headDim: Int, heads: Int, kvHeads: Int, positions: [Int32], window: Int32, prompt: Bool,
                     q: [Float], k: [UInt16], v: [UInt16], table: [Int32], blockSize: Int32) -> [Float] {
        let qStride = heads * headDim
        var out = [Float](repeating: .nan, count: positions.count * qStride)
        var scratch = [Float](repeating: 0, count: Int(flint_attention_scratch_floats(FLINT_KV_F16, Int64(positions.count), positions.max()!, Int32(headDim), Int32(heads))))
        flint_attention_paged(q, Int64(qStride), positions, 0, Int64(positions.count), prompt ? 1 : 0, k, v, FLINT_KV_F16, table, blockSize,
                              Int32(heads), Int32(kvHeads), Int32(headDim), 1 / Float(headDim).squareRoot(), window,
                              0, Int32(heads), &out, Int64(qStride), &scratch)
        return out
    }

    func testVectorPathMatchesScalarBitwise() {
        var rng = SplitMix64(seed: 11)
        func uniform() -> Float { Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1 }
        for (headDim, heads, kvHeads) in [(64, 9, 3), (256, 4, 1), (64, 14, 2), (40, 2, 2)] {
            for window: Int32 in [0, 7] {
              for prompt in [false, true] {
                let blockSize: Int32 = 4, blocks = 20
                let slots = Int(blockSize) * blocks
                let k = (0..<(slots * kvHeads * headDim)).map { _ in flint_fp32_to_fp16(uniform() * 2) }
                var v = (0..<(slots * kvHeads * headDim)).map { _ in flint_fp32_to_fp16(uniform()) }
                var table = Array(0..<Int32(blocks))
                table.shuffle(using: &rng)
                let positions: [Int32] = [0, 1, 5, 8, 13, 29, 30, 31, 50, 70]
                // Slots past the last position hold NaN: a kernel must not read keys beyond a row's position.
                // (layout: block, then KV head, then the slot's index in the block; flint_kv_store)
                for j in 71..<slots {
                    let b = Int(table[j / Int(blockSize)]), i = j % Int(blockSize)
                    for h in 0..<kvHeads {
                        let row = (b * kvHeads + h) * Int(blockSize) + i
                        for e in 0..<headDim { v[row * headDim + e] = 0x7E00 }
                    }
                }
                let q = (0..<(positions.count * heads * headDim)).map { _ in uniform() * 3 }
                let a = run(headDim: headDim, heads: heads, kvHeads: kvHeads, positions: positions, window: window, isa: "scalar",
                            prompt: prompt, q: q, k: k, v: v, table: table, blockSize: blockSize)
                XCTAssertFalse(a.contains { $0.isNaN })
                for isa in simdISAs() {
                    let b = run(headDim: headDim, heads: heads, kvHeads: kvHeads, positions: positions, window: window, isa: isa,
                                prompt: prompt, q: q, k: k, v: v, table: table, blockSize: blockSize)
                    XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "\(isa): head dim \(headDim), window \(window), prompt \(prompt)")
                }
              }
            }
        }
    }

    /// Prompt rows attend as tiles (attention.c): every row of a tile must get exactly the bits
    /// it gets alone, on every path, for head sizes 64, 128 and 256, causal and windowed rows,
    /// chunks that start after cached positions, odd chunk lengths, rows on both sides of KV
    /// and key-block boundaries, and tiles cut at any row.
    func testTiledPromptRowsMatchRowByRowBitwise() {
        var rng = SplitMix64(seed: 23)
        func uniform() -> Float { Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1 }
        let cases: [(headDim: Int, heads: Int, kvHeads: Int, start: Int32, count: Int32, window: Int32)] = [
            (64, 4, 2, 0, 37, 0), (64, 14, 2, 100, 45, 0), (128, 2, 1, 5, 19, 0), (256, 4, 1, 0, 33, 0),
            (256, 4, 1, 70, 21, 16), (64, 2, 1, 130, 17, 60), (128, 3, 3, 63, 1, 0), (64, 2, 2, 0, 129, 33),
            (80, 2, 1, 3, 23, 0), (64, 40, 1, 9, 3, 0),
        ]
        for c in cases {
            let blockSize: Int32 = 16, blocks = Int((c.start + c.count + 15) / 16) + 3
            let slots = Int(blockSize) * blocks
            let k = (0..<(slots * c.kvHeads * c.headDim)).map { _ in flint_fp32_to_fp16(uniform() * 2) }
            var v = (0..<(slots * c.kvHeads * c.headDim)).map { _ in flint_fp32_to_fp16(uniform()) }
            var table = Array(0..<Int32(blocks))
            table.shuffle(using: &rng)
            let last = Int(c.start + c.count - 1)
            for j in (last + 1)..<slots {  // never written: NaN, which no row may read
                let b = Int(table[j / Int(blockSize)]), i = j % Int(blockSize)
                for h in 0..<c.kvHeads {
                    let row = (b * c.kvHeads + h) * Int(blockSize) + i
                    for e in 0..<c.headDim { v[row * c.headDim + e] = 0x7E00 }
                }
            }
            let positions = Array(c.start..<(c.start + c.count))
            let q = (0..<(positions.count * c.heads * c.headDim)).map { _ in uniform() * 3 }
            let qStride = c.heads * c.headDim
            // rows [begin, end) in one call, written into a copy of `into`
            func attend(_ begin: Int, _ end: Int, into: [Float]) -> [Float] {
                var out = into
                var scratch = [Float](repeating: 0, count: Int(flint_attention_scratch_floats(FLINT_KV_F16, Int64(end - begin), positions.max()!, Int32(c.headDim), Int32(c.heads))))
                flint_attention_paged(q, Int64(qStride), positions, Int64(begin), Int64(end), 1, k, v, FLINT_KV_F16, table, blockSize,
                                      Int32(c.heads), Int32(c.kvHeads), Int32(c.headDim), 1 / Float(c.headDim).squareRoot(), c.window,
                                      0, Int32(c.heads), &out, Int64(qStride), &scratch)
                return out
            }
            let empty = [Float](repeating: .nan, count: positions.count * qStride)
            for isa in ["scalar"] + simdISAs() {
                withISA(isa) {
                    var alone = empty
                    for r in positions.indices { alone = attend(r, r + 1, into: alone) }
                    XCTAssertFalse(alone.contains { $0.isNaN }, "\(isa) \(c)")
                    let whole = attend(0, positions.count, into: empty)
                    XCTAssertEqual(alone.map(\.bitPattern), whole.map(\.bitPattern), "\(isa): one call, \(c)")
                    // tiles cut at another row: the first 5 rows, then the rest
                    let cut = min(5, positions.count)
                    let split = attend(cut, positions.count, into: attend(0, cut, into: empty))
                    XCTAssertEqual(alone.map(\.bitPattern), split.map(\.bitPattern), "\(isa): split at \(cut), \(c)")
                }
            }
        }
    }

    /// A decoding row with a long context reads its keys and values block by block for all
    /// heads of a KV head (attention.c): the same bits as head by head, on every path, with
    /// windows, block boundaries inside and on the GGML_KV_PAD tail.
    func testGroupedDecodeMatchesHeadByHeadBitwise() {
        var rng = SplitMix64(seed: 31)
        func uniform() -> Float { Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1 }
        for (headDim, heads, kvHeads, window) in [(64, 6, 2, 0), (256, 4, 1, 0), (128, 4, 2, 200)] as [(Int, Int, Int, Int32)] {
            let blockSize: Int32 = 16, blocks = 40
            let slots = Int(blockSize) * blocks
            let k = (0..<(slots * kvHeads * headDim)).map { _ in flint_fp32_to_fp16(uniform() * 2) }
            let v = (0..<(slots * kvHeads * headDim)).map { _ in flint_fp32_to_fp16(uniform()) }
            var table = Array(0..<Int32(blocks))
            table.shuffle(using: &rng)
            let positions: [Int32] = [299, 300, 511, 517, 639]
            let q = (0..<(positions.count * heads * headDim)).map { _ in uniform() * 3 }
            for isa in ["scalar"] + simdISAs() {
                withISA(isa) {
                    flint_attention_set_decode_block_keys(1 << 30)
                    let alone = run(headDim: headDim, heads: heads, kvHeads: kvHeads, positions: positions, window: window,
                                    prompt: false, q: q, k: k, v: v, table: table, blockSize: blockSize)
                    flint_attention_set_decode_block_keys(48)
                    let grouped = run(headDim: headDim, heads: heads, kvHeads: kvHeads, positions: positions, window: window,
                                      prompt: false, q: q, k: k, v: v, table: table, blockSize: blockSize)
                    flint_attention_set_decode_block_keys(0)
                    XCTAssertFalse(alone.contains { $0.isNaN })
                    XCTAssertEqual(alone.map(\.bitPattern), grouped.map(\.bitPattern), "\(isa): head dim \(headDim), window \(window)")
                }
            }
        }
    }

    /// The KV-cache store (F32 -> F16, round to nearest even) writes the scalar path's bytes,
    /// for ordinary values, halfway cases, subnormals, overflow, infinities and NaN.
    func testStoreF16VectorPathMatchesScalar() {
        var rng = SplitMix64(seed: 5)
        var x: [Float] = [0, -0.0, 1, -1, 65504, 65520, 65519.99, 1e9, -1e9, .infinity, -.infinity, .nan,
                          5.9604645e-8, 2.9802322e-8, 1e-7, 6.1035156e-5, 6.1e-5, 1.00048828125, 1.000732421875]
        x += (0..<333).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
        x += (0..<333).map { _ in (Float(rng.next() >> 40) / Float(1 << 24) - 0.5) * 20 }
        func store(_ isa: String) -> [UInt16] {
            var out = [UInt16](repeating: 0, count: x.count)
            withISA(isa) { flint_store_f16(&out, x, Int64(x.count)) }
            return out
        }
        let a = store("scalar")
        for isa in simdISAs() {
            let b = store(isa)
            for i in x.indices where a[i] != b[i] {
                // NaN payloads may differ in bits; both must be NaN.
                XCTAssertTrue(x[i].isNaN && flint_fp16_to_fp32(a[i]).isNaN && flint_fp16_to_fp32(b[i]).isNaN,
                              "\(isa) element \(i) (\(x[i])): \(a[i]) vs \(b[i])")
            }
        }
    }

    /// A Q8_0 cache (flint_kv_store quantizes, the tiles widen): on every path the same bits
    /// as the scalar reference, and for every row the same bits whether it runs alone as a
    /// decoding row, with its whole chunk, or in a chunk cut elsewhere; and close to the F16
    /// cache's result. Only quantization separates the two: up to half a step (1/254 of a
    /// block's largest value) per key and value element; with these inputs (keys up to 2,
    /// queries up to 3) that moves a score by up to ~0.05 at head size 256, so probabilities
    /// by ~5% and an output (values up to 1) by ~0.02 at worst; 0.03 bounds it.
    func testQ8CacheRowsAreInvariantAndTrackF16() {
        var rng = SplitMix64(seed: 41)
        func uniform() -> Float { Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1 }
        let cases: [(headDim: Int, heads: Int, kvHeads: Int, start: Int32, count: Int32, window: Int32)] = [
            (64, 14, 2, 0, 37, 0), (64, 9, 3, 40, 30, 0), (256, 4, 1, 0, 33, 0), (256, 4, 1, 70, 21, 16), (128, 2, 1, 300, 5, 0),
        ]
        for c in cases {
            let blockSize: Int32 = 16, blocks = Int((c.start + c.count + 15) / 16) + 2
            var table = Array(0..<Int32(blocks))
            table.shuffle(using: &rng)
            let positions = Array(c.start..<(c.start + c.count))
            let kvWidth = c.kvHeads * c.headDim, qStride = c.heads * c.headDim
            let keys = (0..<(positions.count + Int(c.start)) * kvWidth).map { _ in uniform() * 2 }
            let values = (0..<(positions.count + Int(c.start)) * kvWidth).map { _ in uniform() }
            let q = (0..<(positions.count * qStride)).map { _ in uniform() * 3 }
            // A pool of `type` holding every position's keys and values, stored on the current path.
            func pool(_ type: Int32, _ x: [Float]) -> [UInt16] {
                let rowElems = Int(flint_kv_row_elems(type, Int32(c.headDim)))
                var cache = [UInt16](repeating: 0x7E00, count: Int(blockSize) * blocks * c.kvHeads * rowElems)
                for j in 0..<(Int(c.start) + positions.count) {
                    let slot = Int64(table[j / Int(blockSize)]) * Int64(blockSize) + Int64(j % Int(blockSize))
                    x.withUnsafeBufferPointer {
                        flint_kv_store(&cache, type, slot, $0.baseAddress! + j * kvWidth, Int32(c.kvHeads), Int32(c.headDim), blockSize)
                    }
                }
                return cache
            }
            func attend(_ type: Int32, _ k: [UInt16], _ v: [UInt16], _ begin: Int, _ end: Int, prompt: Bool, into: [Float]) -> [Float] {
                var out = into
                var scratch = [Float](repeating: 0, count: Int(flint_attention_scratch_floats(type, Int64(end - begin), positions.max()!, Int32(c.headDim), Int32(c.heads / c.kvHeads))))
                flint_attention_paged(q, Int64(qStride), positions, Int64(begin), Int64(end), prompt ? 1 : 0, k, v, type, table, blockSize,
                                      Int32(c.heads), Int32(c.kvHeads), Int32(c.headDim), 1 / Float(c.headDim).squareRoot(), c.window,
                                      0, Int32(c.heads), &out, Int64(qStride), &scratch)
                return out
            }
            let empty = [Float](repeating: .nan, count: positions.count * qStride)
            var reference: [Float] = []
            for isa in ["scalar"] + simdISAs() {
                withISA(isa) {
                    let k8 = pool(FLINT_KV_Q8_0, keys), v8 = pool(FLINT_KV_Q8_0, values)
                    let whole = attend(FLINT_KV_Q8_0, k8, v8, 0, positions.count, prompt: true, into: empty)
                    XCTAssertFalse(whole.contains { $0.isNaN }, "\(isa) \(c)")
                    var alone = empty
                    for r in positions.indices { alone = attend(FLINT_KV_Q8_0, k8, v8, r, r + 1, prompt: false, into: alone) }
                    XCTAssertEqual(whole.map(\.bitPattern), alone.map(\.bitPattern), "\(isa): decoding rows, \(c)")
                    let cut = min(5, positions.count)
                    let split = attend(FLINT_KV_Q8_0, k8, v8, cut, positions.count, prompt: true,
                                       into: attend(FLINT_KV_Q8_0, k8, v8, 0, cut, prompt: true, into: empty))
                    XCTAssertEqual(whole.map(\.bitPattern), split.map(\.bitPattern), "\(isa): split at \(cut), \(c)")
                    if reference.isEmpty {
                        reference = whole
                        let f16 = attend(FLINT_KV_F16, pool(FLINT_KV_F16, keys), pool(FLINT_KV_F16, values), 0, positions.count,
                                         prompt: true, into: empty)
                        let worst = zip(whole, f16).map { abs($0 - $1) }.max()!
                        XCTAssertLessThan(worst, 0.03, "q8_0 vs f16: \(c)")
                        XCTAssertGreaterThan(worst, 0, "q8_0 must differ from f16 somewhere: \(c)")
                    } else {
                        XCTAssertEqual(reference.map(\.bitPattern), whole.map(\.bitPattern), "\(isa) vs scalar: \(c)")
                    }
                }
            }
        }
    }

    func testSingleKeyReturnsItsValue() {
        // One position: softmax weight 1, so the output is V (as stored in F16).
        let headDim = 64
        let v = (0..<headDim).map { flint_fp32_to_fp16(Float($0) / 64) }
        let k = [UInt16](repeating: flint_fp32_to_fp16(0.5), count: headDim)
        let q = [Float](repeating: 1, count: headDim)
        let out = run(headDim: headDim, heads: 1, kvHeads: 1, positions: [0], window: 0,
                      prompt: false, q: q, k: k, v: v, table: [0], blockSize: 16)
        XCTAssertEqual(out, v.map { flint_fp16_to_fp32($0) })
    }
}

/// Every path's Q8_0/Q8_1/Q8_K activation quantizers write the same bytes as the scalar ones.
final class ActivationQuantizerTests: XCTestCase {
    func testSimdQuantizersMatchScalarBytes() {
        var rng = SplitMix64(seed: 5)
        for type in [FLINT_TYPE_Q8_0, FLINT_TYPE_Q8_1, FLINT_TYPE_Q8_K] {
            let blockElems = Int(flint_type_block_elems(Int32(type.rawValue)))
            for blocks in [1, 3, 28, 152] {
                let n = blocks * blockElems
                var x = (0..<n).map { _ in (Float(rng.next() >> 40) / Float(1 << 24) - 0.5) * 40 }
                // Exact ties, zero blocks and huge values exercise rounding and the zero scale.
                for i in stride(from: 0, to: n, by: 7) { x[i] = Float(i % 5) - 2.5 }
                if blocks > 1 { for i in blockElems..<(2 * blockElems) { x[i] = 0 } }
                x[n - 1] = 3e4
                // The largest magnitude twice with opposite signs: the first one sets the scale's sign.
                x[5] = -25
                x[9] = 25
                let bytes = Int(flint_row_bytes(Int32(type.rawValue), Int64(n)))
                var scalar = [UInt8](repeating: 0, count: bytes)
                withISA("scalar") { flint_quantize_row(Int32(type.rawValue), x, &scalar, Int64(n)) }
                for isa in simdISAs() {
                    var simd = [UInt8](repeating: 0, count: bytes)
                    withISA(isa) { flint_quantize_row(Int32(type.rawValue), x, &simd, Int64(n)) }
                    XCTAssertEqual(scalar, simd, "\(isa): type \(type.rawValue), \(blocks) blocks")
                }
            }
        }
    }
}

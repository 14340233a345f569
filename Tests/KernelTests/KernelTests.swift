import FlintTestSupport
import CFlintKernels
import XCTest

final class TypeTableTests: XCTestCase {
    func testBlockSizesAndRowBytes() {
        let expected: [(UInt32, Int64, Int)] = [
            (FLINT_TYPE_F32.rawValue, 1, 4), (FLINT_TYPE_F16.rawValue, 1, 2), (FLINT_TYPE_BF16.rawValue, 1, 2),
            (FLINT_TYPE_Q4_0.rawValue, 32, 18), (FLINT_TYPE_Q4_1.rawValue, 32, 20),
            (FLINT_TYPE_Q5_0.rawValue, 32, 22), (FLINT_TYPE_Q5_1.rawValue, 32, 24),
            (FLINT_TYPE_Q8_0.rawValue, 32, 34), (FLINT_TYPE_Q8_1.rawValue, 32, 36),
            (FLINT_TYPE_Q4_K.rawValue, 256, 144), (FLINT_TYPE_Q5_K.rawValue, 256, 176),
            (FLINT_TYPE_Q6_K.rawValue, 256, 210), (FLINT_TYPE_Q8_K.rawValue, 256, 292),
        ]
        for (t, elems, bytes) in expected {
            let ti = Int32(t)
            XCTAssertEqual(flint_type_supported(ti), 1)
            XCTAssertEqual(flint_type_block_elems(ti), elems, typeName(ti))
            XCTAssertEqual(flint_type_block_bytes(ti), bytes, typeName(ti))
            XCTAssertEqual(flint_row_bytes(ti, elems * 7), bytes * 7, typeName(ti))
            XCTAssertEqual(flint_row_bytes(ti, 4096), Int(4096 / elems) * bytes, typeName(ti))
        }
        for bad: Int32 in [4, 5, 10, 11, 16, 29, 31, -1, 100] {
            XCTAssertEqual(flint_type_supported(bad), 0)
            XCTAssertEqual(flint_type_block_elems(bad), 0)
            XCTAssertEqual(flint_type_block_bytes(bad), 0)
        }
    }

    func testVecDotTypes() {
        let q80 = Int32(FLINT_TYPE_Q8_0.rawValue), q81 = Int32(FLINT_TYPE_Q8_1.rawValue), q8k = Int32(FLINT_TYPE_Q8_K.rawValue)
        XCTAssertEqual(flint_vec_dot_type(Int32(FLINT_TYPE_Q4_0.rawValue)), q80)
        XCTAssertEqual(flint_vec_dot_type(Int32(FLINT_TYPE_Q5_0.rawValue)), q80)
        XCTAssertEqual(flint_vec_dot_type(Int32(FLINT_TYPE_Q8_0.rawValue)), q80)
        XCTAssertEqual(flint_vec_dot_type(Int32(FLINT_TYPE_Q4_1.rawValue)), q81)
        XCTAssertEqual(flint_vec_dot_type(Int32(FLINT_TYPE_Q5_1.rawValue)), q81)
        XCTAssertEqual(flint_vec_dot_type(Int32(FLINT_TYPE_Q4_K.rawValue)), q8k)
        XCTAssertEqual(flint_vec_dot_type(Int32(FLINT_TYPE_Q5_K.rawValue)), q8k)
        XCTAssertEqual(flint_vec_dot_type(Int32(FLINT_TYPE_Q6_K.rawValue)), q8k)
        for t in [FLINT_TYPE_F32, FLINT_TYPE_F16, FLINT_TYPE_BF16] {
            XCTAssertEqual(flint_vec_dot_type(Int32(t.rawValue)), Int32(t.rawValue))
        }
    }

    func testISAReporting() {
        let best = String(cString: flint_kernels_isa())
        XCTAssertTrue(["scalar", "avx2", "avxvnni", "avx512vnni", "neon"].contains(best))
        flint_kernels_force_scalar(1)
        XCTAssertEqual(String(cString: flint_kernels_isa()), "scalar")
        flint_kernels_force_scalar(0)
        XCTAssertEqual(String(cString: flint_kernels_isa()), best)
        XCTAssertEqual(flint_kernels_isa_available("scalar"), 1)
        XCTAssertEqual(flint_kernels_set_isa("no-such-isa"), 0)
        XCTAssertEqual(String(cString: flint_kernels_isa()), best)
    }
}

final class HalfConversionTests: XCTestCase {
    func testFP16AllBitPatternsMatchSwiftFloat16() {
        for bits in 0...0xFFFF {
            let h = UInt16(bits)
            let f = flint_fp16_to_fp32(h)
            let ref = Float(Float16(bitPattern: h))
            if ref.isNaN {
                XCTAssertTrue(f.isNaN)
                XCTAssertTrue(flint_fp32_to_fp16(f) & 0x7C00 == 0x7C00 && flint_fp32_to_fp16(f) & 0x3FF != 0)
            } else {
                XCTAssertEqual(f.bitPattern, ref.bitPattern, "bits \(bits)")
                XCTAssertEqual(flint_fp32_to_fp16(f), h, "round trip \(bits)")
            }
        }
    }

    func testFP16RoundingMatchesSwift() {
        var rng = SplitMix64(seed: 1)
        for _ in 0..<200_000 {
            let f = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng))
            if f.isNaN { continue }
            XCTAssertEqual(flint_fp32_to_fp16(f), Float16(f).bitPattern, "\(f)")
        }
        // halfway and boundary cases
        let specials: [Float] = [0, -0.0, 1, -1, 65504, 65519.99, 65520, -65520, 1e10, .infinity, -.infinity,
                                 6.1035156e-05, 5.9604645e-08, 2.9802322e-08, 2.9802326e-08, 1.0009765625 / 2 + 0.5,
                                 1 + 1.0 / 2048, 1 + 3.0 / 2048, .leastNonzeroMagnitude, -.leastNormalMagnitude]
        for f in specials {
            XCTAssertEqual(flint_fp32_to_fp16(f), Float16(f).bitPattern, "\(f)")
        }
        XCTAssertEqual(flint_fp32_to_fp16(.infinity), 0x7C00)
        XCTAssertEqual(flint_fp32_to_fp16(-0.0), 0x8000)
        XCTAssertTrue(flint_fp16_to_fp32(flint_fp32_to_fp16(.nan)).isNaN)
    }

    func testBF16() {
        for bits in 0...0xFFFF {
            let h = UInt16(bits)
            let f = flint_bf16_to_fp32(h)
            XCTAssertEqual(f.bitPattern, UInt32(h) << 16)
            if !f.isNaN { XCTAssertEqual(flint_fp32_to_bf16(f), h) }
        }
        XCTAssertEqual(flint_fp32_to_bf16(1.0), 0x3F80)
        XCTAssertEqual(flint_fp32_to_bf16(Float(bitPattern: 0x3F80_8000)), 0x3F80)  // tie -> even
        XCTAssertEqual(flint_fp32_to_bf16(Float(bitPattern: 0x3F81_8000)), 0x3F82)  // tie -> even
        XCTAssertEqual(flint_fp32_to_bf16(Float(bitPattern: 0x3F80_8001)), 0x3F81)
        XCTAssertEqual(flint_fp32_to_bf16(.infinity), 0x7F80)
        XCTAssertEqual(flint_fp32_to_bf16(Float.greatestFiniteMagnitude), 0x7F80)  // rounds up to inf
        XCTAssertTrue(flint_bf16_to_fp32(flint_fp32_to_bf16(.nan)).isNaN)
        XCTAssertTrue(flint_bf16_to_fp32(flint_fp32_to_bf16(Float(bitPattern: 0x7F80_0001))).isNaN)
    }
}

final class QuantizationTests: XCTestCase {
    /// ggml test-quantize-fns thresholds (sqrt(sum sq) / n metric).
    func maxRoundTripError(_ t: Int32) -> Double {
        switch UInt32(t) {
        case FLINT_TYPE_F32.rawValue: return 0
        case FLINT_TYPE_F16.rawValue, FLINT_TYPE_BF16.rawValue: return 0.0002
        case FLINT_TYPE_Q8_0.rawValue, FLINT_TYPE_Q8_1.rawValue, FLINT_TYPE_Q8_K.rawValue: return 0.0002
        default: return 0.002
        }
    }

    func testRoundTripError() {
        let n = 32 * 128
        let x = cosData(n, offset: 0)
        for t in allTypes {
            let q = quantize(t, x)
            XCTAssertEqual(q.count, flint_row_bytes(t, Int64(n)))
            let y = dequantize(t, q, n)
            let err = ggmlRMSE(x, y)
            XCTAssertLessThanOrEqual(err, maxRoundTripError(t), typeName(t))
            // Plain RMS sanity bound: a few quantisation steps at most.
            var maxAbs: Float = 0
            for i in 0..<n { maxAbs = max(maxAbs, abs(x[i] - y[i])) }
            let bound: Float = blockElems(t) == 1 ? 0.01 : (t == Int32(FLINT_TYPE_Q8_0.rawValue) || t == Int32(FLINT_TYPE_Q8_1.rawValue) || t == Int32(FLINT_TYPE_Q8_K.rawValue)) ? 0.02 : 0.35
            XCTAssertLessThanOrEqual(maxAbs, bound, "max abs error \(typeName(t))")
        }
    }

    func testRoundTripRandomAndEdgeData() {
        var rng = SplitMix64(seed: 7)
        for t in allTypes {
            let be = blockElems(t) == 1 ? 32 : blockElems(t)
            for nb in [1, 3, 7] {
                let n = be * nb
                var x = randomData(n, &rng)
                if nb == 3 { for i in 0..<be { x[i] = 0 } }  // an all-zero block
                if nb == 7 { for i in be..<(2 * be) { x[i] = 0.25 } }  // a constant block
                let y = dequantize(t, quantize(t, x), n)
                var maxX: Float = 0
                for v in x { maxX = max(maxX, abs(v)) }
                for i in 0..<n {
                    XCTAssertTrue(y[i].isFinite)
                    XCTAssertLessThanOrEqual(abs(x[i] - y[i]), 0.2 * maxX, "\(typeName(t)) nb \(nb) i \(i)")
                }
                if nb == 3 { for i in 0..<be { XCTAssertEqual(y[i], 0, "\(typeName(t)) zero block") } }
            }
        }
    }

    func testQ8ActivationSums() {
        var rng = SplitMix64(seed: 3)
        let x = randomData(256 * 3, &rng)
        let q81 = quantize(Int32(FLINT_TYPE_Q8_1.rawValue), x)
        for b in 0..<(x.count / 32) {
            let base = b * 36
            let d = flint_fp16_to_fp32(UInt16(q81[base]) | UInt16(q81[base + 1]) << 8)
            let s = flint_fp16_to_fp32(UInt16(q81[base + 2]) | UInt16(q81[base + 3]) << 8)
            var sum = 0
            for j in 0..<32 { sum += Int(Int8(bitPattern: q81[base + 4 + j])) }
            // s = fp16(sum * d) with the unrounded d: equal to sum * fp16(d) up to two fp16 roundings.
            XCTAssertEqual(s, Float(sum) * d, accuracy: abs(Float(sum) * d) * 2e-3 + 1e-6)
        }
        let q8k = quantize(Int32(FLINT_TYPE_Q8_K.rawValue), x)
        for b in 0..<3 {
            let base = b * 292
            for g in 0..<16 {
                var sum = 0
                for j in 0..<16 { sum += Int(Int8(bitPattern: q8k[base + 4 + g * 16 + j])) }
                let bs = Int16(bitPattern: UInt16(q8k[base + 260 + 2 * g]) | UInt16(q8k[base + 261 + 2 * g]) << 8)
                XCTAssertEqual(Int(bs), sum)
            }
        }
    }
}

final class VecDotTests: XCTestCase {
    /// vec_dot agrees with the dot of the dequantized vectors (weights and activations).
    func testAgainstDequantized() {
        var rng = SplitMix64(seed: 11)
        for isa in ["scalar"] + simdISAs() {
            withISA(isa) {
                for t in weightTypes {
                    let xt = flint_vec_dot_type(t)
                    let be = max(blockElems(t), blockElems(xt), 32)
                    for nb in [1, 3, 7, 33] {
                        let n = be * nb
                        let wq = quantize(t, randomData(n, &rng)), xq = quantize(xt, randomData(n, &rng))
                        let wd = dequantize(t, wq, n), xd = dequantize(xt, xq, n)
                        let ref = dotF(wd, xd)
                        var norm = 0.0
                        for i in 0..<n { norm += abs(Double(wd[i]) * Double(xd[i])) }
                        // Q8_1 stores s = fp16(d * sum(q)) from the unrounded d, so the min term
                        // m * s carries about two fp16 roundings of slack per block.
                        var slack = 0.0
                        if xt == Int32(FLINT_TYPE_Q8_1.rawValue) {
                            for b in 0..<(n / 32) {
                                var mw = 0.0, sx = 0.0
                                for j in (b * 32)..<(b * 32 + 32) { mw = max(mw, abs(Double(wd[j]))); sx += Double(xd[j]) }
                                slack += 2e-3 * mw * abs(sx) + 1e-3 * mw
                            }
                        }
                        let got = Double(vecDot(t, n, wq, xq))
                        XCTAssertLessThanOrEqual(abs(got - ref), 1e-5 * norm + 1e-6 + slack, "\(isa) \(typeName(t)) nb \(nb)")
                    }
                }
            }
        }
    }

    /// ggml test-quantize-fns style: error against the exact float dot of the original data.
    func testAgainstOriginalData() {
        let n = 32 * 128
        let a = cosData(n, offset: 0), b = cosData(n, offset: 1)
        let ref = dotF(a, b)
        for isa in ["scalar"] + simdISAs() {
            withISA(isa) {
                for t in weightTypes {
                    let xt = flint_vec_dot_type(t)
                    let got = Double(vecDot(t, n, quantize(t, a), quantize(xt, b)))
                    let err = abs(got - ref) / Double(n)
                    XCTAssertLessThanOrEqual(err, 0.02, "\(isa) \(typeName(t))")
                }
            }
        }
    }

    /// The activation formats dotted with themselves (scalar path only has them for all ISAs).
    func testActivationSelfDot() {
        var rng = SplitMix64(seed: 5)
        for t in [Int32(FLINT_TYPE_Q8_1.rawValue), Int32(FLINT_TYPE_Q8_K.rawValue)] {
            let n = 256 * 3
            let a = quantize(t, randomData(n, &rng)), b = quantize(t, randomData(n, &rng))
            let ref = dotF(dequantize(t, a, n), dequantize(t, b, n))
            XCTAssertEqual(Double(vecDot(t, n, a, b)), ref, accuracy: 1e-3 + abs(ref) * 1e-5)
        }
    }

    /// Each SIMD path equals the scalar reference within float-rounding tolerance.
    func testSIMDMatchesScalar() {
        var rng = SplitMix64(seed: 21)
        for isa in simdISAs() {
            for t in weightTypes {
                let xt = flint_vec_dot_type(t)
                let be = max(blockElems(t), blockElems(xt))
                var sizes = [1, 3, 7, 33].map { $0 * be }
                if be == 1 { sizes += [5, 13, 31, 100, 1000] }  // float types: any length
                for n in sizes {
                    let wq = quantize(t, randomData(n, &rng)), xq = quantize(xt, randomData(n, &rng))
                    var ref: Float = 0
                    withISA("scalar") { ref = vecDot(t, n, wq, xq) }
                    var got: Float = 0
                    withISA(isa) { got = vecDot(t, n, wq, xq) }
                    XCTAssertTrue(close(got, ref), "\(isa) \(typeName(t)) n \(n): \(got) vs \(ref)")
                }
            }
        }
    }
}

final class GemmTests: XCTestCase {
    struct Problem {
        let t: Int32, k: Int, rows: Int, m: Int
        let w: [UInt8], x: [UInt8], wStride: Int, xStride: Int
    }

    func makeProblem(_ t: Int32, blocks: Int, rows: Int, m: Int, _ rng: inout SplitMix64, pad: Int = 0) -> Problem {
        let xt = flint_vec_dot_type(t)
        let be = max(blockElems(t), blockElems(xt), blockElems(t) == 1 ? 8 : 1)
        let k = be * blocks + (blockElems(t) == 1 ? 3 : 0)  // float types also get a ragged tail
        let wRow = flint_row_bytes(t, Int64(k)), xRow = flint_row_bytes(xt, Int64(k))
        let wStride = wRow + pad, xStride = xRow + pad
        var w = [UInt8](repeating: 0, count: wStride * rows), x = [UInt8](repeating: 0, count: xStride * m)
        for r in 0..<rows { let q = quantize(t, randomData(k, &rng)); w.replaceSubrange(r * wStride..<(r * wStride + wRow), with: q) }
        for i in 0..<m { let q = quantize(xt, randomData(k, &rng)); x.replaceSubrange(i * xStride..<(i * xStride + xRow), with: q) }
        return Problem(t: t, k: k, rows: rows, m: m, w: w, x: x, wStride: wStride, xStride: xStride)
    }

    func runGemm(_ p: Problem, r0: Int, r1: Int, m: Int, ldy: Int) -> [Float] {
        var y = [Float](repeating: .nan, count: ldy * m)
        gemm(p.t, k: p.k, w: p.w, wStride: p.wStride, r0: r0, r1: r1, x: p.x, xStride: p.xStride, m: m, y: &y, ldy: ldy)
        return y
    }

    /// gemm equals a loop of vec_dot (bit for bit) for m in 1...37 and arbitrary row ranges,
    /// and leaves the entries outside [r0, r1) untouched.
    func testGemmEqualsVecDotLoop() {
        var rng = SplitMix64(seed: 31)
        for isa in ["scalar"] + simdISAs() {
            withISA(isa) {
                for t in weightTypes {
                    let p = makeProblem(t, blocks: [1, 3, 7][Int(t) % 3], rows: 11, m: 37, &rng, pad: Int(t) % 2 * 4)
                    for m in 1...37 {
                        let r0 = Int.random(in: 0...5, using: &rng), r1 = Int.random(in: (r0 + 1)...11, using: &rng)
                        let ldy = 13
                        let y = runGemm(p, r0: r0, r1: r1, m: m, ldy: ldy)
                        for i in 0..<m {
                            for r in 0..<ldy {
                                let v = y[i * ldy + r]
                                if r < r0 || r >= r1 { XCTAssertTrue(v.isNaN, "\(isa) \(typeName(t)) wrote outside rows"); continue }
                                let d = vecDot(t, p.k, p.w, p.x, wOffset: r * p.wStride, xOffset: i * p.xStride)
                                XCTAssertEqual(v.bitPattern, d.bitPattern, "\(isa) \(typeName(t)) m \(m) r \(r) i \(i)")
                            }
                        }
                    }
                }
            }
        }
    }

    /// Row results do not depend on how many activation rows share the call (batch invariance).
    func testBatchInvariance() {
        var rng = SplitMix64(seed: 41)
        for isa in ["scalar"] + simdISAs() {
            withISA(isa) {
                for t in weightTypes {
                    let p = makeProblem(t, blocks: 3, rows: 9, m: 32, &rng)
                    let full = runGemm(p, r0: 0, r1: 9, m: 32, ldy: 9)
                    for m in [1, 2, 3, 4, 5, 7, 8, 17, 31] {
                        let part = runGemm(p, r0: 0, r1: 9, m: m, ldy: 9)
                        for i in 0..<(m * 9) {
                            XCTAssertEqual(part[i].bitPattern, full[i].bitPattern, "\(isa) \(typeName(t)) m \(m)")
                        }
                        // a single row range starting at an odd offset
                        let sub = runGemm(p, r0: 3, r1: 8, m: m, ldy: 9)
                        for i in 0..<m { for r in 3..<8 { XCTAssertEqual(sub[i * 9 + r].bitPattern, full[i * 9 + r].bitPattern) } }
                    }
                }
            }
        }
    }

    /// Each SIMD gemm equals the scalar gemm within float-rounding tolerance.
    func testSIMDGemmMatchesScalar() {
        var rng = SplitMix64(seed: 51)
        for isa in simdISAs() {
            for t in weightTypes {
                for blocks in [1, 3, 7, 33] {
                    let m = Int.random(in: 1...9, using: &rng), rows = Int.random(in: 1...10, using: &rng)
                    let p = makeProblem(t, blocks: blocks, rows: rows, m: m, &rng)
                    let r0 = Int.random(in: 0..<rows, using: &rng), r1 = Int.random(in: (r0 + 1)...rows, using: &rng)
                    var ref: [Float] = [], got: [Float] = []
                    withISA("scalar") { ref = runGemm(p, r0: r0, r1: r1, m: m, ldy: rows) }
                    withISA(isa) { got = runGemm(p, r0: r0, r1: r1, m: m, ldy: rows) }
                    for i in 0..<m {
                        for r in r0..<r1 {
                            XCTAssertTrue(close(got[i * rows + r], ref[i * rows + r]),
                                          "\(isa) \(typeName(t)) blocks \(blocks): \(got[i * rows + r]) vs \(ref[i * rows + r])")
                        }
                    }
                }
            }
        }
    }
}

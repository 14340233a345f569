import CFlintKernels
import FlintTestSupport
import XCTest

/// Guards the optimised gemm tiles: for every ISA, type, m (incl. 256) and row range, each
/// (weight row, activation row) result is bit-identical to flint_vec_dot (the unchanged 1x1
/// tile), and vec_dot itself matches a recorded snapshot of the pre-optimisation outputs.
final class GemmSnapshotTests: XCTestCase {
    struct Prob { let t: Int32; let k: Int; let w: [UInt8]; let x: [UInt8]; let ws: Int; let xs: Int }

    func make(_ t: Int32, blocks: Int, rows: Int, m: Int, pad: Int, _ rng: inout SplitMix64) -> Prob {
        let xt = flint_vec_dot_type(t)
        let be = max(blockElems(t), blockElems(xt), blockElems(t) == 1 ? 8 : 1)
        let k = be * blocks + (blockElems(t) == 1 ? 5 : 0)
        let wRow = flint_row_bytes(t, Int64(k)), xRow = flint_row_bytes(xt, Int64(k))
        let ws = wRow + pad, xs = xRow + pad
        var w = [UInt8](repeating: 0, count: ws * rows), x = [UInt8](repeating: 0, count: xs * m)
        for r in 0..<rows { w.replaceSubrange(r * ws..<(r * ws + wRow), with: quantize(t, randomData(k, &rng))) }
        for i in 0..<m { x.replaceSubrange(i * xs..<(i * xs + xRow), with: quantize(xt, randomData(k, &rng))) }
        return Prob(t: t, k: k, w: w, x: x, ws: ws, xs: xs)
    }

    func testGemmBitIdenticalToVecDotAllShapes() {
        let rows = 19, mMax = 256
        for isa in ["scalar"] + simdISAs() {
            var rng = SplitMix64(seed: 7)
            withISA(isa) {
                for t in weightTypes {
                    let blocks = blockElems(t) == QK_K_ELEMS ? 3 : (blockElems(t) == 1 ? 9 : 19)
                    let p = make(t, blocks: blocks, rows: rows, m: mMax, pad: Int(t) % 2 * 4, &rng)
                    // reference: vec_dot for every pair
                    var ref = [Float](repeating: 0, count: rows * mMax)
                    for i in 0..<mMax { for r in 0..<rows {
                        ref[i * rows + r] = vecDot(t, p.k, p.w, p.x, wOffset: r * p.ws, xOffset: i * p.xs)
                    } }
                    for m in [1, 2, 3, 5, 8, 17, 64, 256] {
                        for (r0, r1) in [(0, rows), (1, 18), (3, 11), (5, 6), (2, 4), (7, 16)] {
                            var y = [Float](repeating: .nan, count: rows * m)
                            p.w.withUnsafeBytes { wb in p.x.withUnsafeBytes { xb in y.withUnsafeMutableBufferPointer { yb in
                                flint_gemm(t, Int64(p.k), wb.baseAddress, p.ws, Int64(r0), Int64(r1),
                                           xb.baseAddress, p.xs, Int64(m), yb.baseAddress, Int64(rows))
                            } } }
                            var bad = 0
                            for i in 0..<m { for r in 0..<rows {
                                let v = y[i * rows + r]
                                if r < r0 || r >= r1 { if !v.isNaN { bad += 1 }; continue }
                                if v.bitPattern != ref[i * rows + r].bitPattern { bad += 1 }
                            } }
                            XCTAssertEqual(bad, 0, "\(isa) \(typeName(t)) m \(m) rows \(r0)..<\(r1)")
                        }
                    }
                }
            }
        }
    }

    /// Activation bytes of -128 (never produced by the quantizers, but valid input): the signed
    /// types' vec_dot takes |q| x sign(x, q), which wraps there, and the kernels that compute
    /// from the unsigned form q + OFF or from i16 operands (AVX2 tiles) must notice and give
    /// vec_dot's bits all the same.
    func testGemmMatchesVecDotWithMinus128Activations() {
        let rows = 19
        for isa in ["scalar"] + simdISAs() {
            var rng = SplitMix64(seed: 13)
            withISA(isa) {
                for t in [FLINT_TYPE_Q4_0, FLINT_TYPE_Q5_0, FLINT_TYPE_Q8_0].map({ Int32($0.rawValue) }) {
                    for m in [1, 2, 5, 17] {
                        var p = make(t, blocks: 5, rows: rows, m: m, pad: 0, &rng)
                        var x = p.x
                        for i in stride(from: 0, to: m, by: 2) {  // a few bytes of every other row
                            for b in [0, 3] { x[i * p.xs + b * 34 + 2 + (7 * i + b) % 32] = 0x80 }
                        }
                        p = Prob(t: p.t, k: p.k, w: p.w, x: x, ws: p.ws, xs: p.xs)
                        var y = [Float](repeating: .nan, count: rows * m)
                        p.w.withUnsafeBytes { wb in p.x.withUnsafeBytes { xb in y.withUnsafeMutableBufferPointer { yb in
                            flint_gemm(t, Int64(p.k), wb.baseAddress, p.ws, 0, Int64(rows), xb.baseAddress, p.xs, Int64(m),
                                       yb.baseAddress, Int64(rows))
                        } } }
                        var bad = 0
                        for i in 0..<m { for r in 0..<rows {
                            let ref = vecDot(t, p.k, p.w, p.x, wOffset: r * p.ws, xOffset: i * p.xs)
                            if y[i * rows + r].bitPattern != ref.bitPattern { bad += 1 }
                        } }
                        XCTAssertEqual(bad, 0, "\(isa) \(typeName(t)) m \(m)")
                    }
                }
            }
        }
    }

    /// The batch forms (flint_gemm_form: Q4_K in llama.cpp's 4-row GEMM, Q6_K in its tiled
    /// GEMM): every SIMD path and tile shape gives the scalar reference's bits, and the form
    /// is really another rounding than the one-row form.
    func testGemmFormsMatchScalarAndDifferFromRowForm() {
        let rows = 19, mMax = 64
        for (t, form) in [(FLINT_TYPE_Q4_K, FLINT_GEMM_GROUP4), (FLINT_TYPE_Q6_K, FLINT_GEMM_TILED)] {
            let type = Int32(t.rawValue), f = Int32(form.rawValue)
            var rng = SplitMix64(seed: 5)
            let p = make(type, blocks: 6, rows: rows, m: mMax, pad: 4, &rng)
            func run(_ form: Int32, m: Int, r0: Int, r1: Int) -> [Float] {
                var y = [Float](repeating: .nan, count: rows * m)
                p.w.withUnsafeBytes { wb in p.x.withUnsafeBytes { xb in y.withUnsafeMutableBufferPointer { yb in
                    flint_gemm_form(type, form, Int64(p.k), wb.baseAddress, p.ws, Int64(r0), Int64(r1),
                                    xb.baseAddress, p.xs, Int64(m), yb.baseAddress, Int64(rows))
                } } }
                return y
            }
            var reference: [Float] = []
            withISA("scalar") { reference = run(f, m: mMax, r0: 0, r1: rows) }
            var rowForm: [Float] = []
            withISA("scalar") { rowForm = run(Int32(FLINT_GEMM_ROW.rawValue), m: mMax, r0: 0, r1: rows) }
            XCTAssertGreaterThan(zip(reference, rowForm).filter { $0.bitPattern != $1.bitPattern }.count, 0,
                                 "\(typeName(type)): the form should round differently somewhere")
            for isa in simdISAs() {
                withISA(isa) {
                    for m in [1, 2, 3, 4, 8, 9, 17, 64] {
                        for (r0, r1) in [(0, rows), (1, 18), (5, 6), (7, 16)] {
                            let y = run(f, m: m, r0: r0, r1: r1)
                            var bad = 0
                            for i in 0..<m { for r in 0..<rows {
                                let v = y[i * rows + r]
                                if r < r0 || r >= r1 { if !v.isNaN { bad += 1 }; continue }
                                if v.bitPattern != reference[i * rows + r].bitPattern { bad += 1 }
                            } }
                            XCTAssertEqual(bad, 0, "\(isa) \(typeName(type)) form \(f) m \(m) rows \(r0)..<\(r1)")
                        }
                    }
                }
            }
        }
    }

    /// vec_dot outputs hashed per ISA: recorded from the code before the gemm optimisation.
    func testVecDotSnapshot() {
        // Re-recorded when Q4_K took the arithmetic of llama.cpp's repacked Q4_K kernels.
        let expected: [String: UInt64] = ["scalar": 11700190538102444625, "avx2": 1129364953195664461,
                                          "avx512vnni": 1129364953195664461]
        for isa in ["scalar"] + simdISAs() {
            var rng = SplitMix64(seed: 99)
            var h: UInt64 = 0xcbf29ce484222325
            withISA(isa) {
                for t in weightTypes {
                    let blocks = blockElems(t) == QK_K_ELEMS ? 3 : (blockElems(t) == 1 ? 9 : 19)
                    let p = make(t, blocks: blocks, rows: 5, m: 7, pad: 0, &rng)
                    for i in 0..<7 { for r in 0..<5 {
                        let v = vecDot(t, p.k, p.w, p.x, wOffset: r * p.ws, xOffset: i * p.xs)
                        h = (h ^ UInt64(v.bitPattern)) &* 0x100000001b3
                    } }
                }
            }
            print("SNAPSHOT \(isa) \(h)")
            if let e = expected[isa] { XCTAssertEqual(h, e, "\(isa) vec_dot snapshot changed") }
        }
    }
}

private let QK_K_ELEMS = 256

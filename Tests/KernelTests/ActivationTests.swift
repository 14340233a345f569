import CFlintKernels
import FlintTestSupport
import Foundation
import XCTest

/// flint_swiglu: every SIMD path gives the scalar reference's bits (ggml_v_expf in both),
/// row tails past the last multiple of 16 take libm's exp, and the values are SiLU's.
final class ActivationTests: XCTestCase {
    private func swiglu(_ gate: [Float], _ up: [Float], rows: Int, isa: String) -> [Float] {
        var out = [Float](repeating: .nan, count: gate.count)
        withISA(isa) { flint_swiglu(gate, up, &out, Int64(rows), Int64(gate.count / rows)) }
        return out
    }

    func testVectorPathMatchesScalarBitwiseAndSiLU() {
        var rng = SplitMix64(seed: 3)
        func uniform() -> Float { Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1 }
        for (rows, length) in [(1, 1536), (3, 37), (2, 16), (4, 5)] {
            var gate = (0..<(rows * length)).map { _ in uniform() * 12 }
            gate[0] = -100  // exp(100) overflows: silu -> -0
            if gate.count > 1 { gate[1] = 95 }
            let up = (0..<(rows * length)).map { _ in uniform() }
            let a = swiglu(gate, up, rows: rows, isa: "scalar")
            for isa in simdISAs() {
                let b = swiglu(gate, up, rows: rows, isa: isa)
                XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "\(isa): rows \(rows) length \(length)")
            }
            for i in 0..<gate.count {
                let expected = Double(gate[i]) / (1 + exp(-Double(gate[i]))) * Double(up[i])
                XCTAssertEqual(Double(a[i]), expected, accuracy: 1e-6 * max(1, abs(expected)), "element \(i)")
                let tail = i % length >= length - length % 16
                if tail {  // libm tail, exactly ggml_silu_f32
                    XCTAssertEqual(a[i], gate[i] / (1 + expf(-gate[i])) * up[i])
                }
            }
        }
    }

    /// flint_geglu: every SIMD path gives the scalar path's bits, and both follow the GELU_FP16
    /// scheme (table lookup at the F16-rounded input, 0 below -10, identity above 10).
    func testGegluVectorPathMatchesScalarAndTableScheme() {
        // Any table exercises the lookup; a tanh-GELU one keeps the values realistic.
        let table: [UInt16] = (0...UInt16.max).map { h in
            let x = flint_fp16_to_fp32(h)
            return flint_fp32_to_fp16(0.5 * x * (1 + tanhf(0.7978845608 * (x + 0.044715 * x * x * x))))
        }
        var rng = SplitMix64(seed: 4)
        func uniform() -> Float { Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1 }
        for n in [1, 15, 16, 37, 2048] {
            var gate = (0..<n).map { _ in uniform() * 14 }
            gate[0] = -10
            if n > 2 { gate[1] = 10; gate[2] = 9.999 }
            let up = (0..<n).map { _ in uniform() }
            var a = [Float](repeating: .nan, count: n)
            withISA("scalar") { flint_geglu(gate, up, &a, Int64(n), table) }
            for isa in simdISAs() {
                var b = [Float](repeating: .nan, count: n)
                withISA(isa) { flint_geglu(gate, up, &b, Int64(n), table) }
                XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "\(isa): n \(n)")
            }
            for i in 0..<n {
                let x = gate[i]
                let expected = x <= -10 ? 0 : x >= 10 ? x * up[i] : flint_fp16_to_fp32(table[Int(flint_fp32_to_fp16(x))]) * up[i]
                XCTAssertEqual(a[i].bitPattern, expected.bitPattern, "element \(i)")
            }
        }
    }
}

import CFlintKernels
import FlintTestSupport
import XCTest

/// flint_argmax: every vector path returns the scalar scan's index (first maximum, NaNs
/// ignored, 0 when nothing is above -inf) for odd lengths and placed extremes.
final class SamplingTests: XCTestCase {
    private func argmax(_ x: [Float], isa: String) -> Int64 {
        var r: Int64 = -1
        withISA(isa) { r = flint_argmax(x, Int64(x.count)) }
        return r
    }

    func testVectorPathMatchesScalarScan() {
        var rng = SplitMix64(seed: 3)
        func uniform() -> Float { Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1 }
        for n in [1, 2, 15, 16, 17, 31, 32, 33, 47, 100, 1000, 49152, 49155] {
            var cases: [[Float]] = []
            let base = (0..<n).map { _ in uniform() }
            cases.append(base)
            for pos in Set([0, n / 2, n - 1]) {
                var c = base; c[pos] = 5; cases.append(c)                         // unique maximum
                var d = base; d[pos] = 5; d[(pos + n / 3) % n] = 5; cases.append(d)  // tie: first wins
                var e = base; e[pos] = .nan; cases.append(e)                      // NaN ignored
                var f = base; f[pos] = .infinity; cases.append(f)
            }
            cases.append([Float](repeating: -.infinity, count: n))
            cases.append([Float](repeating: .nan, count: n))
            cases.append((0..<n).map { $0 % 2 == 0 ? .nan : -Float.infinity })
            for (i, c) in cases.enumerated() {
                let expected = argmax(c, isa: "scalar")
                for isa in simdISAs() { XCTAssertEqual(argmax(c, isa: isa), expected, "\(isa): n \(n) case \(i)") }
            }
        }
        // the scalar reference itself: first maximum, NaN skipped, 0 without any finite value
        XCTAssertEqual(argmax([1, 3, 3, .nan, 2], isa: "scalar"), 1)
        XCTAssertEqual(argmax([.nan, -1, -2], isa: "scalar"), 1)
        XCTAssertEqual(argmax([-.infinity, -.infinity], isa: "scalar"), 0)
    }
}

import CFlintKernels
import Foundation
import FlintTestSupport
import XCTest

/// Weight types with a dot product, and the activation formats.
let weightTypes: [Int32] = [
    Int32(FLINT_TYPE_F32.rawValue), Int32(FLINT_TYPE_F16.rawValue), Int32(FLINT_TYPE_BF16.rawValue),
    Int32(FLINT_TYPE_Q4_0.rawValue), Int32(FLINT_TYPE_Q4_1.rawValue), Int32(FLINT_TYPE_Q5_0.rawValue),
    Int32(FLINT_TYPE_Q5_1.rawValue), Int32(FLINT_TYPE_Q8_0.rawValue), Int32(FLINT_TYPE_Q4_K.rawValue),
    Int32(FLINT_TYPE_Q5_K.rawValue), Int32(FLINT_TYPE_Q6_K.rawValue),
]
let allTypes: [Int32] = weightTypes + [
    Int32(FLINT_TYPE_Q8_1.rawValue), Int32(FLINT_TYPE_Q8_K.rawValue),
]

func typeName(_ t: Int32) -> String {
    switch UInt32(t) {
    case FLINT_TYPE_F32.rawValue: return "F32"
    case FLINT_TYPE_F16.rawValue: return "F16"
    case FLINT_TYPE_BF16.rawValue: return "BF16"
    case FLINT_TYPE_Q4_0.rawValue: return "Q4_0"
    case FLINT_TYPE_Q4_1.rawValue: return "Q4_1"
    case FLINT_TYPE_Q5_0.rawValue: return "Q5_0"
    case FLINT_TYPE_Q5_1.rawValue: return "Q5_1"
    case FLINT_TYPE_Q8_0.rawValue: return "Q8_0"
    case FLINT_TYPE_Q8_1.rawValue: return "Q8_1"
    case FLINT_TYPE_Q4_K.rawValue: return "Q4_K"
    case FLINT_TYPE_Q5_K.rawValue: return "Q5_K"
    case FLINT_TYPE_Q6_K.rawValue: return "Q6_K"
    case FLINT_TYPE_Q8_K.rawValue: return "Q8_K"
    default: return "type\(t)"
    }
}

func blockElems(_ t: Int32) -> Int { Int(flint_type_block_elems(t)) }


func cosData(_ n: Int, offset: Float) -> [Float] {
    (0..<n).map { 0.1 + 2 * cos(Float($0) + offset) }
}

func randomData(_ n: Int, _ rng: inout SplitMix64) -> [Float] {
    (0..<n).map { _ in Float.random(in: -1...1, using: &rng) * (1 + Float.random(in: 0...3, using: &rng)) }
}

func quantize(_ t: Int32, _ x: [Float]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: flint_row_bytes(t, Int64(x.count)))
    x.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBytes { dst in
            flint_quantize_row(t, src.baseAddress, dst.baseAddress, Int64(x.count))
        }
    }
    return out
}

func dequantize(_ t: Int32, _ q: [UInt8], _ n: Int) -> [Float] {
    var out = [Float](repeating: 0, count: n)
    q.withUnsafeBytes { src in
        out.withUnsafeMutableBufferPointer { dst in
            flint_dequantize_row(t, src.baseAddress, dst.baseAddress, Int64(n))
        }
    }
    return out
}

func vecDot(_ t: Int32, _ n: Int, _ w: [UInt8], _ x: [UInt8], wOffset: Int = 0, xOffset: Int = 0) -> Float {
    var r: Float = 0
    w.withUnsafeBytes { wb in
        x.withUnsafeBytes { xb in
            flint_vec_dot(t, Int64(n), &r, wb.baseAddress! + wOffset, xb.baseAddress! + xOffset)
        }
    }
    return r
}

func gemm(_ t: Int32, k: Int, w: [UInt8], wStride: Int, r0: Int, r1: Int,
          x: [UInt8], xStride: Int, m: Int, y: inout [Float], ldy: Int) {
    w.withUnsafeBytes { wb in
        x.withUnsafeBytes { xb in
            y.withUnsafeMutableBufferPointer { yb in
                flint_gemm(t, Int64(k), wb.baseAddress, wStride, Int64(r0), Int64(r1),
                           xb.baseAddress, xStride, Int64(m), yb.baseAddress, Int64(ldy))
            }
        }
    }
}

func dotF(_ a: [Float], _ b: [Float]) -> Double {
    var s = 0.0
    for i in 0..<a.count { s += Double(a[i]) * Double(b[i]) }
    return s
}

/// ggml's test-quantize-fns metric: sqrt(sum of squared differences) / n.
func ggmlRMSE(_ a: [Float], _ b: [Float]) -> Double {
    var s = 0.0
    for i in 0..<a.count { let d = Double(a[i]) - Double(b[i]); s += d * d }
    return s.squareRoot() / Double(a.count)
}

/// Every path of the kernel layer (flint_kernels.h), on any architecture.
let allSIMDISAs = ["avx2", "avxvnni", "avx512vnni", "neon"]

/// The paths other than scalar that this CPU can run. The first call prints which paths the
/// kernel tests run here and which this CPU cannot run (their tests run on such CPUs, and
/// NEON's under qemu in scripts/test-arm64).
func simdISAs() -> [String] {
    let ran = allSIMDISAs.filter { flint_kernels_isa_available($0) != 0 }
    reportISAs.once(ran)
    return ran
}

private final class ISAReport: @unchecked Sendable {
    private var printed = false
    private let lock = NSLock()
    func once(_ ran: [String]) {
        lock.lock()
        defer { lock.unlock() }
        guard !printed else { return }
        printed = true
        let skipped = allSIMDISAs.filter { !ran.contains($0) }
        print("kernel tests: paths run on this CPU: scalar, \(ran.joined(separator: ", ")); not runnable here: \(skipped.isEmpty ? "none" : skipped.joined(separator: ", "))")
    }
}
private let reportISAs = ISAReport()

/// Runs `body` with the named path selected, restoring the best path afterwards.
func withISA(_ name: String, _ body: () throws -> Void) rethrows {
    if name == "scalar" { flint_kernels_force_scalar(1) } else { precondition(flint_kernels_set_isa(name) != 0) }
    defer { flint_kernels_force_scalar(0) }
    try body()
}

func close(_ a: Float, _ b: Float, rel: Float = 1e-4, abs: Float = 1e-3) -> Bool {
    Swift.abs(a - b) <= max(abs, rel * max(Swift.abs(a), Swift.abs(b)))
}

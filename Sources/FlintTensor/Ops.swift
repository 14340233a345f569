import Foundation

/// Namespace of the tensor operations a forward pass is made of. Every op works on
/// raw row-major float rows and writes into caller-provided memory.
public enum Ops {}

extension Ops {
    /// RMS normalisation of `rows` rows of `dim` floats, in place or into `out`,
    /// multiplied by `weight`. Sums of squares are accumulated in Double, as GGML does.
    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, rows: Int, dim: Int,
                               stride: Int, eps: Float, out: UnsafeMutablePointer<Float>, outStride: Int) {
        for r in 0..<rows {
            let xr = x + r * stride
            let o = out + r * outStride
            var sum = 0.0
            for i in 0..<dim { sum += Double(xr[i]) * Double(xr[i]) }
            let scale = 1.0 / (Float(sum / Double(dim)) + eps).squareRoot()
            for i in 0..<dim { o[i] = xr[i] * scale * weight[i] }
        }
    }

    /// out = silu(gate) * up, elementwise over `n` floats.
    public static func swiglu(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n {
            let g = gate[i]
            out[i] = g / (1 + expf(-g)) * up[i]
        }
    }

    /// out = gelu_tanh(gate) * up, elementwise over `n` floats.
    public static func geglu(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, count n: Int) {
        let c: Float = 0.797_884_56  // sqrt(2/pi)
        for i in 0..<n {
            let x = gate[i]
            let g = 0.5 * x * (1 + tanhf(c * x * (1 + 0.044_715 * x * x)))
            out[i] = g * up[i]
        }
    }

    /// x += y over `n` floats.
    public static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count n: Int) {
        for i in 0..<n { x[i] += y[i] }
    }

    /// x *= s over `n` floats.
    public static func scale(_ x: UnsafeMutablePointer<Float>, by s: Float, count n: Int) {
        for i in 0..<n { x[i] *= s }
    }
}

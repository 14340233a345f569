import Foundation

/// Rotary position embedding. `neox` rotates the two halves of each head
/// (GPT-NeoX/Qwen/Gemma layout); otherwise adjacent pairs are rotated (Llama
/// layout, as GGUF stores Llama's permuted Q/K). Angles are built as GGML builds
/// them: theta = pos * base^(-2i/d), accumulated by repeated multiplication.
public struct Rotary: Sendable {
    public let dimensions: Int
    public let base: Float
    public let neox: Bool
    public let positionScale: Float

    public init(dimensions: Int, base: Float, neox: Bool, positionScale: Float = 1) {
        self.dimensions = dimensions
        self.base = base
        self.neox = neox
        self.positionScale = positionScale
    }

    /// Rotates `heads` heads of `headDim` floats (stored contiguously from `x`) at `position`.
    public func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, position: Int32) {
        let thetaScale = powf(base, -2.0 / Float(dimensions))
        let half = dimensions / 2
        for h in 0..<heads {
            let v = x + h * headDim
            var theta = Float(position) * positionScale
            for i in 0..<half {
                let c = cosf(theta), s = sinf(theta)
                let (a, b) = neox ? (i, i + half) : (2 * i, 2 * i + 1)
                let x0 = v[a], x1 = v[b]
                v[a] = x0 * c - x1 * s
                v[b] = x0 * s + x1 * c
                theta *= thetaScale
            }
        }
    }
}

import Foundation

/// Rotary position embedding. `neox` rotates the two halves of each head
/// (GPT-NeoX/Qwen/Gemma layout); otherwise adjacent pairs are rotated (Llama
/// layout, as GGUF stores Llama's permuted Q/K). Angles are built as GGML builds
/// them: theta = pos * base^(-2i/d), accumulated by repeated multiplication.
///
/// The cos/sin of a position are computed once per forward pass (`fillTable`) and
/// shared by every head of every layer.
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

    /// Floats of table space per position: a cos and a sin per rotated pair.
    public var tableStride: Int { dimensions }

    /// Writes [cos0, sin0, cos1, sin1, …] for each position into `table`.
    public func fillTable(_ table: UnsafeMutablePointer<Float>, positions: [Int32]) {
        let thetaScale = powf(base, -2.0 / Float(dimensions))
        for (r, p) in positions.enumerated() {
            let t = table + r * tableStride
            var theta = Float(p) * positionScale
            for i in 0..<(dimensions / 2) {
                t[2 * i] = cosf(theta)
                t[2 * i + 1] = sinf(theta)
                theta *= thetaScale
            }
        }
    }

    /// Rotates `heads` heads of `headDim` floats (stored contiguously from `x`) using
    /// one position's row of a table from `fillTable`.
    public func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, table: UnsafePointer<Float>) {
        let half = dimensions / 2
        for h in 0..<heads {
            let v = x + h * headDim
            for i in 0..<half {
                let c = table[2 * i], s = table[2 * i + 1]
                let (a, b) = neox ? (i, i + half) : (2 * i, 2 * i + 1)
                let x0 = v[a], x1 = v[b]
                // Fused the way C compilers contract `x0*c - x1*s` (first product fused),
                // so rotated values agree bit for bit with llama.cpp's.
                v[a] = (-(x1 * s)).addingProduct(x0, c)
                v[b] = (x1 * c).addingProduct(x0, s)
            }
        }
    }
}

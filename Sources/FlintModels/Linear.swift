import FlintLoading
import FlintTensor

/// y = W·x (+ b). The weight stays in its stored format; only activations are
/// quantized, once per row, for the dot products.
public struct Linear: Sendable {
    public let weight: WeightMatrix
    public let bias: [Float]?

    public var inputSize: Int { weight.columns }
    public var outputSize: Int { weight.rows }

    public init(weight: WeightMatrix, bias: [Float]? = nil) {
        self.weight = weight
        self.bias = bias
    }

    /// `sameInput`: `x` is the input of the previous Linear call, unchanged (Q/K/V,
    /// gate/up), so its quantized rows can be reused when the formats agree. `tokenRows`: the
    /// rows are the pass's token rows, so the context's GemmRowPlan applies to them.
    public func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>,
                               context: ForwardContext, sameInput: Bool = false, tokenRows: Bool = true) {
        Ops.matmul(weight, x, rows: rows, xStride: weight.columns, out: out, outStride: weight.rows,
                   activations: context.quantized, reuseInput: sameInput, plan: tokenRows ? context.gemmRows : nil, pool: context.pool)
        if let bias {
            bias.withUnsafeBufferPointer { b in
                for r in 0..<rows { Ops.add(out + r * weight.rows, b.baseAddress!, count: weight.rows) }
            }
        }
    }
}

import FlintTensor

/// Token embedding lookup: dequantizes one row of the table per token.
struct Embedding {
    let table: WeightMatrix

    func callAsFunction(_ tokens: [Int32], out: UnsafeMutablePointer<Float>, scale: Float = 1) {
        let d = table.columns
        for (i, t) in tokens.enumerated() {
            let row = Int(t)
            let o = out + i * d
            if row >= 0 && row < table.rows {
                table.dequantizeRow(row, into: o)
                if scale != 1 { Ops.scale(o, by: scale, count: d) }
            } else {
                o.initialize(repeating: 0, count: d)
            }
        }
    }
}

import CFlintKernels
import FlintTensor
import Foundation

extension LoRAAdapter {
    /// The base weight of `key` dequantized to f32 (row-major, out × in) plus scale·B·A.
    public func mergedWeight(_ key: LoRAKey, base gguf: GGUFFile) throws -> [Float] {
        guard let w = weights[key] else { throw LoRAError.unsupported("the adapter has no layer \(key.layer) \(key.target.peftName)") }
        let name = "blk.\(key.layer).\(key.target.ggufName).weight"
        guard let info = gguf.tensorInfo(name) else { throw LoRAError.gguf(.missingTensor(name)) }
        guard info.shape == [w.inputSize, w.outputSize] else {
            throw LoRAError.gguf(.wrongTensorShape(name: name, expected: [w.inputSize, w.outputSize], found: info.shape))
        }
        let m = WeightMatrix(type: info.type, rows: w.outputSize, columns: w.inputSize, data: gguf.data(of: info), owner: gguf)
        var out = [Float](repeating: 0, count: w.outputSize * w.inputSize)
        let n = w.inputSize
        out.withUnsafeMutableBufferPointer { dst in
            w.a.withUnsafeBufferPointer { a in
                for o in 0..<w.outputSize {
                    let row = dst.baseAddress! + o * n
                    m.dequantizeRow(o, into: row)
                    for j in 0..<w.rank {
                        let c = scale * w.b[o * w.rank + j]
                        let aj = a.baseAddress! + j * n
                        for i in 0..<n { row[i] += c * aj[i] }
                    }
                }
            }
        }
        return out
    }

    /// Writes `base` with this adapter merged into its projections as a new GGUF: adapted
    /// weights are stored as `type` (F32 or F16: re-quantizing to the base's 4-bit formats
    /// would round away much of a small update), everything else is copied unchanged.
    public func writeMerged(base gguf: GGUFFile, config: ModelConfig, type: DType = .f16, to path: String) throws {
        try validate(against: config, maxRank: Self.maxFileRank)
        guard type == .f32 || type == .f16 else { throw LoRAError.unsupported("merged weights can be F32 or F16, not \(type)") }
        var writer = GGUFWriter()
        writer.alignment = gguf.header.alignment
        writer.metadata = gguf.header.keys.compactMap { k in gguf.metadata[k].map { (k, $0) } }
        var adapted: [String: LoRAKey] = [:]
        for key in keys { adapted["blk.\(key.layer).\(key.target.ggufName).weight"] = key }
        for info in gguf.tensors {
            if let key = adapted[info.name] {
                writer.tensors.append(.init(name: info.name, shape: info.shape, type: type) { [self] in
                    let merged = try mergedWeight(key, base: gguf)
                    let n = info.shape[0], rows = merged.count / n, rowBytes = type.rowBytes(n)
                    var data = Data(count: rows * rowBytes)
                    data.withUnsafeMutableBytes { dst in
                        merged.withUnsafeBufferPointer { src in
                            for r in 0..<rows {
                                flint_quantize_row(type.rawValue, src.baseAddress! + r * n, dst.baseAddress! + r * rowBytes, Int64(n))
                            }
                        }
                    }
                    return data
                })
            } else {
                writer.tensors.append(.init(name: info.name, shape: info.shape, type: info.type) {
                    Data(bytes: gguf.data(of: info), count: info.byteCount)
                })
            }
        }
        try writer.write(to: path)
    }
}

import FlintLoading
import FlintTensor

/// Fetches named tensors from a GGUF file with the shapes a model expects, so a file
/// whose tensors do not fit its metadata is a clear error rather than a bad read.
struct WeightLoader {
    let gguf: GGUFFile

    func info(_ name: String) throws -> GGUFTensorInfo {
        guard let t = gguf.tensorInfo(name) else { throw GGUFError.missingTensor(name) }
        return t
    }

    func has(_ name: String) -> Bool { gguf.tensorInfo(name) != nil }

    /// A weight of `rows` output rows by `columns` inputs (GGUF shape [columns, rows]).
    func matrix(_ name: String, rows: Int, columns: Int) throws -> WeightMatrix {
        let t = try info(name)
        guard t.shape.count == 2, t.shape[0] == columns, t.shape[1] == rows else {
            throw GGUFError.wrongTensorShape(name: name, expected: [columns, rows], found: t.shape)
        }
        return WeightMatrix(type: t.type, rows: rows, columns: columns, data: gguf.data(of: t), owner: gguf)
    }

    /// A `Linear` layer: `<name>.weight`, plus `<name>.bias` when the file has one.
    func linear(_ name: String, rows: Int, columns: Int) throws -> Linear {
        Linear(weight: try matrix(name + ".weight", rows: rows, columns: columns),
               bias: try optionalVector(name + ".bias", count: rows))
    }

    /// A 1-D tensor (norm weights, biases) converted to floats.
    func vector(_ name: String, count: Int) throws -> [Float] {
        let t = try info(name)
        guard t.elementCount == count, t.shape[0] == count else {
            throw GGUFError.wrongTensorShape(name: name, expected: [count], found: t.shape)
        }
        let m = WeightMatrix(type: t.type, rows: 1, columns: count, data: gguf.data(of: t), owner: gguf)
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { m.dequantizeRow(0, into: $0.baseAddress!) }
        return out
    }

    func optionalVector(_ name: String, count: Int) throws -> [Float]? {
        has(name) ? try vector(name, count: count) : nil
    }
}

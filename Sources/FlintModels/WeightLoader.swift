import FlintLoading
import FlintTensor

/// Fetches named tensors from a GGUF file with the shapes a model expects, so a file
/// whose tensors do not fit its metadata is a clear error rather than a bad read.
struct WeightLoader {
    let gguf: GGUFFile
    /// Replacement f32 values for some 2-D weights, by tensor name (a merged-adapter
    /// reference model, for instance); each must match the file's shape.
    var overrides: [String: [Float]] = [:]

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
        if let values = overrides[name] {
            guard values.count == rows * columns else {
                throw GGUFError.wrongTensorShape(name: name, expected: [columns, rows], found: [values.count])
            }
            let storage = FloatStorage(values)
            return WeightMatrix(type: .f32, rows: rows, columns: columns, data: UnsafeRawPointer(storage.pointer), owner: storage)
        }
        return WeightMatrix(type: t.type, rows: rows, columns: columns, data: gguf.data(of: t), owner: gguf)
    }

    /// An adaptable projection of `layer`: `<name>.weight` (+ bias) under a LoRALinear.
    func linear(_ name: String, layer: Int, target: LoRATarget, rows: Int, columns: Int) throws -> LoRALinear {
        LoRALinear(base: try linear(name, rows: rows, columns: columns), layer: layer, target: target)
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

/// Owned f32 weights for a `WeightMatrix` (which only points at its bytes).
final class FloatStorage: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>

    init(_ values: [Float]) {
        pointer = .allocate(capacity: max(1, values.count))
        values.withUnsafeBufferPointer { pointer.initialize(from: $0.baseAddress!, count: values.count) }
    }

    deinit { pointer.deallocate() }
}

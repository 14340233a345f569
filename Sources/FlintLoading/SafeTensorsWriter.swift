import Foundation

/// Builds a safetensors file from f32 values, stored as F32, F16 or BF16. Used for
/// generated adapters and tests; the layout is what the Python `safetensors` package
/// writes (tensors in insertion order, header padded with spaces to 8 bytes).
public struct SafeTensorsWriter: Sendable {
    public enum StorageType: Sendable {
        case f32, f16, bf16
        var dtype: SafeTensorsDType {
            switch self {
            case .f32: .f32
            case .f16: .f16
            case .bf16: .bf16
            }
        }
    }

    private struct Pending: Sendable {
        var name: String
        var shape: [Int]
        var values: [Float]
        var type: StorageType
    }

    public var metadata: [String: String] = [:]
    private var pending: [Pending] = []
    private var names: Set<String> = []

    public init() {}

    public mutating func add(_ name: String, shape: [Int], values: [Float], as type: StorageType = .f32) throws {
        guard !name.isEmpty, name != "__metadata__" else { throw SafeTensorsError.invalidWrite("invalid tensor name '\(name)'") }
        guard !names.contains(name) else { throw SafeTensorsError.invalidWrite("duplicate tensor '\(name)'") }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw SafeTensorsError.invalidWrite("tensor '\(name)' has a negative dimension") }
        var count = 1
        for d in shape {
            let (p, o) = count.multipliedReportingOverflow(by: d)
            guard !o else { throw SafeTensorsError.invalidWrite("tensor '\(name)' shape \(shape) overflows") }
            count = p
        }
        guard count == values.count else {
            throw SafeTensorsError.invalidWrite("tensor '\(name)' has shape \(shape) (\(count) elements) but \(values.count) values")
        }
        names.insert(name)
        pending.append(Pending(name: name, shape: shape, values: values, type: type))
    }

    public func serialize() throws -> [UInt8] {
        var header: [String: Any] = [:]
        var offset = 0
        for p in pending {
            let size = p.values.count * p.type.dtype.byteSize
            header[p.name] = ["dtype": p.type.dtype.rawValue, "shape": p.shape, "data_offsets": [offset, offset + size]] as [String: Any]
            offset += size
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json: [UInt8]
        do {
            json = Array(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        } catch {
            throw SafeTensorsError.invalidWrite("header: \(error)")
        }
        while json.count % 8 != 0 { json.append(0x20) }

        var out: [UInt8] = []
        out.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: json)
        for p in pending {
            switch p.type {
            case .f32:
                for v in p.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
            case .f16:
                for v in p.values { withUnsafeBytes(of: FloatConversion.floatToHalf(v).littleEndian) { out.append(contentsOf: $0) } }
            case .bf16:
                for v in p.values { withUnsafeBytes(of: FloatConversion.floatToBF16(v).littleEndian) { out.append(contentsOf: $0) } }
            }
        }
        return out
    }

    public func write(to path: String) throws {
        let bytes = try serialize()
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw SafeTensorsError.io("cannot write \(path): \(error.localizedDescription)")
        }
    }
}

import FlintTensor

/// The parsed front part of a GGUF file: metadata, tensor directory and where the
/// data section starts. Parsing trusts nothing: every count, length, type and offset
/// is checked against the bytes actually present.
public struct GGUFHeader: Sendable {
    public static let magic: UInt32 = 0x4655_4747  // "GGUF" read little-endian
    static let maxArrayNesting = 8
    /// Real vocabularies hold a few hundred thousand entries; a larger count is a
    /// corrupted file, and refusing it bounds what one array can allocate (128 MiB).
    static let maxArrayCount = 1 << 24

    public let version: UInt32
    public internal(set) var metadata: [String: GGUFValue]
    /// Keys in file order (for `flint inspect`).
    public let keys: [String]
    public let tensors: [GGUFTensorInfo]
    public let tensorIndex: [String: Int]
    public let alignment: Int
    public let dataOffset: Int

    /// Parses `bytes`, which must be the whole file: tensor extents are checked against it.
    public init(bytes: UnsafeRawBufferPointer) throws {
        var r = ByteReader(bytes)
        let magic = try r.read(UInt32.self, "magic")
        guard magic == Self.magic else { throw GGUFError.badMagic(found: magic) }
        version = try r.read(UInt32.self, "version")
        guard version == 2 || version == 3 else { throw GGUFError.unsupportedVersion(version) }
        let tensorCount = try r.read(UInt64.self, "tensor count")
        let kvCount = try r.read(UInt64.self, "metadata count")

        // A key/value pair takes at least 8 (key length) + 4 (type) + 1 bytes.
        let nKV = try r.checkCount(kvCount, minSize: 13, "metadata")
        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        metadata.reserveCapacity(nKV)
        for i in 0..<nKV {
            let key = try r.readString("metadata key #\(i)")
            let typeOffset = r.offset
            let type = try r.read(UInt32.self, "type of '\(key)'")
            let value = try Self.readValue(&r, type: type, typeOffset: typeOffset, key: key, depth: 0)
            if metadata.updateValue(value, forKey: key) != nil { throw GGUFError.duplicateKey(key) }
            keys.append(key)
        }
        self.metadata = metadata
        self.keys = keys

        var alignment = 32
        if let a = metadata["general.alignment"] {
            guard let v = a.intValue, v > 0, v <= 65536, v & (v - 1) == 0 else {
                // bitPattern: a negative signed value must be reported, not trap the conversion.
                throw GGUFError.badAlignment(UInt64(bitPattern: Int64(a.intValue ?? 0)))
            }
            alignment = v
        }
        self.alignment = alignment

        // name (>= 8) + n_dims (4) + >= 1 dim (8) + type (4) + offset (8)
        let nTensors = try r.checkCount(tensorCount, minSize: 32, "tensor")
        var raw: [(name: String, shape: [UInt64], type: UInt32, offset: UInt64)] = []
        raw.reserveCapacity(nTensors)
        for i in 0..<nTensors {
            let name = try r.readString("name of tensor #\(i)")
            let nDims = try r.read(UInt32.self, "rank of tensor '\(name)'")
            guard (1...4).contains(nDims) else { throw GGUFError.badTensorRank(name: name, dims: nDims) }
            var shape: [UInt64] = []
            for d in 0..<Int(nDims) { shape.append(try r.read(UInt64.self, "dimension \(d) of tensor '\(name)'")) }
            let type = try r.read(UInt32.self, "type of tensor '\(name)'")
            let offset = try r.read(UInt64.self, "data offset of tensor '\(name)'")
            raw.append((name, shape, type, offset))
        }

        let dataOffset = (r.offset + alignment - 1) / alignment * alignment
        self.dataOffset = dataOffset
        let dataSize = max(0, bytes.count - dataOffset)

        var tensors: [GGUFTensorInfo] = []
        var index: [String: Int] = [:]
        tensors.reserveCapacity(raw.count)
        for t in raw {
            guard let dtype = DType(rawValue: Int32(bitPattern: t.type)), dtype != .q8_1, dtype != .q8_K else {
                throw GGUFError.unsupportedTensorType(name: t.name, type: t.type)
            }
            var elements: UInt64 = 1
            for d in t.shape {
                let (p, o) = elements.multipliedReportingOverflow(by: d)
                guard d > 0, !o, p < (1 << 40) else { throw GGUFError.badTensorShape(name: t.name, shape: t.shape) }
                elements = p
            }
            let block = UInt64(dtype.blockElements)
            guard t.shape[0] % block == 0 else {
                throw GGUFError.tensorNotBlockAligned(name: t.name, elements: t.shape[0], blockElements: Int(block))
            }
            let size = elements / block * UInt64(dtype.blockBytes)
            guard t.offset % UInt64(alignment) == 0 else {
                throw GGUFError.misalignedTensorOffset(name: t.name, offset: t.offset, alignment: alignment)
            }
            let (end, o) = t.offset.addingReportingOverflow(size)
            guard !o, end <= UInt64(dataSize) else {
                throw GGUFError.tensorOutOfBounds(name: t.name, start: t.offset, size: size, dataSize: dataSize)
            }
            if index.updateValue(tensors.count, forKey: t.name) != nil { throw GGUFError.duplicateTensor(t.name) }
            tensors.append(GGUFTensorInfo(
                name: t.name, shape: t.shape.map { Int($0) }, type: dtype,
                fileOffset: dataOffset + Int(t.offset), byteCount: Int(size)))
        }
        self.tensors = tensors
        self.tensorIndex = index
    }

    private static func readValue(_ r: inout ByteReader, type: UInt32, typeOffset: Int, key: String, depth: Int) throws -> GGUFValue {
        switch type {
        case 0: return .uint(UInt64(try r.read(UInt8.self, key)))
        case 1: return .int(Int64(try r.read(Int8.self, key)))
        case 2: return .uint(UInt64(try r.read(UInt16.self, key)))
        case 3: return .int(Int64(try r.read(Int16.self, key)))
        case 4: return .uint(UInt64(try r.read(UInt32.self, key)))
        case 5: return .int(Int64(try r.read(Int32.self, key)))
        case 6: return .float(Double(try r.readF32(key)))
        case 7: return .bool(try r.read(UInt8.self, key) != 0)
        case 8: return .string(try r.readString("value of '\(key)'"))
        case 10: return .uint(try r.read(UInt64.self, key))
        case 11: return .int(try r.read(Int64.self, key))
        case 12: return .float(try r.readF64(key))
        case 9: return try readArray(&r, key: key, depth: depth)
        default: throw GGUFError.invalidValueType(type, offset: typeOffset, key: key)
        }
    }

    private static func elementSize(_ type: UInt32) -> Int? {
        switch type {
        case 0, 1, 7: return 1
        case 2, 3: return 2
        case 4, 5, 6: return 4
        case 10, 11, 12: return 8
        case 8: return 8  // at least the length prefix
        case 9: return 12  // at least element type + count
        default: return nil
        }
    }

    private static func readArray(_ r: inout ByteReader, key: String, depth: Int) throws -> GGUFValue {
        guard depth < maxArrayNesting else { throw GGUFError.nestingTooDeep(offset: r.offset, key: key) }
        let typeOffset = r.offset
        let elemType = try r.read(UInt32.self, "array element type of '\(key)'")
        guard let minSize = elementSize(elemType) else {
            throw GGUFError.invalidValueType(elemType, offset: typeOffset, key: key)
        }
        let rawCount = try r.read(UInt64.self, "array length of '\(key)'")
        guard rawCount <= UInt64(maxArrayCount) else {
            throw GGUFError.countTooLarge(count: rawCount, offset: r.offset, what: "array '\(key)'")
        }
        let count = try r.checkCount(rawCount, minSize: minSize, "array '\(key)'")
        switch elemType {
        case 8:
            var out: [String] = []
            out.reserveCapacity(count)
            for i in 0..<count { out.append(try r.readString("element \(i) of '\(key)'")) }
            return .strings(out)
        case 6:
            var out = [Float](repeating: 0, count: count)
            for i in 0..<count { out[i] = try r.readF32(key) }
            return .floats(out)
        case 0, 1, 2, 3, 4, 5, 11:
            var out = [Int64](repeating: 0, count: count)
            for i in 0..<count {
                switch elemType {
                case 0: out[i] = Int64(try r.read(UInt8.self, key))
                case 1: out[i] = Int64(try r.read(Int8.self, key))
                case 2: out[i] = Int64(try r.read(UInt16.self, key))
                case 3: out[i] = Int64(try r.read(Int16.self, key))
                case 4: out[i] = Int64(try r.read(UInt32.self, key))
                case 5: out[i] = Int64(try r.read(Int32.self, key))
                default: out[i] = try r.read(Int64.self, key)
                }
            }
            return .ints(out)
        default:
            var out: [GGUFValue] = []
            out.reserveCapacity(count)
            for _ in 0..<count {
                if elemType == 9 {
                    out.append(try readArray(&r, key: key, depth: depth + 1))
                } else {
                    out.append(try readValue(&r, type: elemType, typeOffset: typeOffset, key: key, depth: depth + 1))
                }
            }
            return .array(out)
        }
    }
}

import FlintTensor
import Foundation

/// Writes a GGUF v3 file: metadata, tensor descriptions, then each tensor's bytes at an
/// aligned offset, streamed tensor by tensor so a large model never sits in memory twice.
///
/// `GGUFValue` keeps integer arrays as Int64 and scalars without their original width, so
/// values are written in the narrowest usual GGUF type that holds them (u32/i32/f32, i32
/// arrays), which is what llama.cpp writes for the keys models use.
public struct GGUFWriter {
    public struct Tensor {
        public let name: String
        /// GGML order: shape[0] is the row length.
        public let shape: [Int]
        public let type: DType
        /// Produces the tensor's bytes (exactly `type.rowBytes(shape[0]) × rows`).
        public let bytes: () throws -> Data

        public init(name: String, shape: [Int], type: DType, bytes: @escaping () throws -> Data) {
            self.name = name
            self.shape = shape
            self.type = type
            self.bytes = bytes
        }

        var byteCount: Int { type.rowBytes(shape[0]) * shape.dropFirst().reduce(1, *) }
    }

    public var metadata: [(key: String, value: GGUFValue)] = []
    public var tensors: [Tensor] = []
    public var alignment = 32

    public init() {}

    public func write(to path: String) throws {
        var header = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { header.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { header.append(contentsOf: $0) } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); header.append(contentsOf: Array(s.utf8)) }
        func typeID(_ v: GGUFValue) -> UInt32 {
            switch v {
            case .uint(let x): return x <= UInt64(UInt32.max) ? 4 : 10
            case .int(let x): return Int64(Int32.min)...Int64(Int32.max) ~= x ? 5 : 11
            case .float: return 6
            case .bool: return 7
            case .string: return 8
            case .strings, .floats, .ints, .array: return 9
            }
        }
        func payload(_ v: GGUFValue) {
            switch v {
            case .uint(let x): if typeID(v) == 4 { u32(UInt32(x)) } else { u64(x) }
            case .int(let x): if typeID(v) == 5 { u32(UInt32(bitPattern: Int32(x))) } else { u64(UInt64(bitPattern: x)) }
            case .float(let x): u32(Float(x).bitPattern)
            case .bool(let b): header.append(b ? 1 : 0)
            case .string(let s): string(s)
            case .strings(let a): u32(8); u64(UInt64(a.count)); for s in a { string(s) }
            case .floats(let a): u32(6); u64(UInt64(a.count)); for f in a { u32(f.bitPattern) }
            case .ints(let a):
                let narrow = a.allSatisfy { Int64(Int32.min)...Int64(Int32.max) ~= $0 }
                u32(narrow ? 5 : 11); u64(UInt64(a.count))
                for x in a { if narrow { u32(UInt32(bitPattern: Int32(x))) } else { u64(UInt64(bitPattern: x)) } }
            case .array(let a):
                u32(a.first.map(typeID) ?? 4); u64(UInt64(a.count))
                for e in a { payload(e) }
            }
        }

        u32(GGUFHeader.magic)
        u32(3)
        u64(UInt64(tensors.count))
        var kvs = metadata.filter { $0.key != "general.alignment" }
        if alignment != 32 { kvs.append(("general.alignment", .uint(UInt64(alignment)))) }
        u64(UInt64(kvs.count))
        for kv in kvs {
            string(kv.key)
            u32(typeID(kv.value))
            payload(kv.value)
        }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offset = (offset + alignment - 1) / alignment * alignment
            offsets.append(offset)
            string(t.name)
            u32(UInt32(t.shape.count))
            for d in t.shape { u64(UInt64(d)) }
            u32(UInt32(bitPattern: t.type.rawValue))
            u64(UInt64(offset))
            offset += t.byteCount
        }
        while header.count % alignment != 0 { header.append(0) }

        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw GGUFError.io("cannot create \(path)")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.write(contentsOf: header)
        var written = 0
        for (t, start) in zip(tensors, offsets) {
            if start > written { try handle.write(contentsOf: Data(count: start - written)) }
            let data = try t.bytes()
            guard data.count == t.byteCount else {
                throw GGUFError.io("tensor \(t.name): \(data.count) bytes produced, \(t.byteCount) expected")
            }
            try handle.write(contentsOf: data)
            written = start + data.count
        }
    }
}

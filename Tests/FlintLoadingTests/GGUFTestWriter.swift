import FlintTestSupport
import FlintLoading
import FlintTensor

/// Little-endian byte sink used by the test writer.
struct ByteSink {
    var bytes: [UInt8] = []

    var count: Int { bytes.count }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func rawString(_ b: [UInt8]) { u64(UInt64(b.count)); bytes.append(contentsOf: b) }
    mutating func string(_ s: String) { rawString(Array(s.utf8)) }
    mutating func pad(to alignment: Int, with byte: UInt8 = 0) {
        while bytes.count % alignment != 0 { bytes.append(byte) }
    }
}

/// A metadata value as written to a GGUF file (type id + payload).
indirect enum GGUFTestValue {
    case u8(UInt8), i8(Int8), u16(UInt16), i16(Int16), u32(UInt32), i32(Int32), f32(Float)
    case bool(Bool), string(String), u64(UInt64), i64(Int64), f64(Double)
    /// An array: element type id, then each element's payload (elements must match the type).
    case array(elementType: UInt32, [GGUFTestValue])
    /// Any type id followed by arbitrary payload bytes (for malformed values).
    case raw(type: UInt32, payload: [UInt8])

    var typeID: UInt32 {
        switch self {
        case .u8: 0
        case .i8: 1
        case .u16: 2
        case .i16: 3
        case .u32: 4
        case .i32: 5
        case .f32: 6
        case .bool: 7
        case .string: 8
        case .array: 9
        case .u64: 10
        case .i64: 11
        case .f64: 12
        case .raw(let t, _): t
        }
    }

    func writePayload(_ s: inout ByteSink) {
        switch self {
        case .u8(let v): s.u8(v)
        case .i8(let v): s.u8(UInt8(bitPattern: v))
        case .u16(let v): s.u16(v)
        case .i16(let v): s.u16(UInt16(bitPattern: v))
        case .u32(let v): s.u32(v)
        case .i32(let v): s.u32(UInt32(bitPattern: v))
        case .f32(let v): s.u32(v.bitPattern)
        case .bool(let v): s.u8(v ? 1 : 0)
        case .string(let v): s.string(v)
        case .u64(let v): s.u64(v)
        case .i64(let v): s.u64(UInt64(bitPattern: v))
        case .f64(let v): s.u64(v.bitPattern)
        case .array(let t, let elems):
            s.u32(t)
            s.u64(UInt64(elems.count))
            for e in elems { e.writePayload(&s) }
        case .raw(_, let payload): s.bytes.append(contentsOf: payload)
        }
    }

    /// Nested string arrays / int arrays helpers.
    static func strings(_ a: [String]) -> GGUFTestValue { .array(elementType: 8, a.map { .string($0) }) }
    static func i32s(_ a: [Int32]) -> GGUFTestValue { .array(elementType: 5, a.map { .i32($0) }) }
}

/// Builds GGUF v2/v3 byte images in memory, with tensors laid out like llama.cpp does
/// (each tensor's data offset aligned, data section starting at an aligned offset).
struct GGUFTestWriter {
    struct Tensor {
        var name: [UInt8]
        var dims: [UInt64]
        var type: UInt32
        /// nil: placed after the previous tensor at the next aligned offset.
        var offset: UInt64?
        /// Written instead of dims.count when set (rank errors).
        var rankOverride: UInt32?
    }

    struct Image {
        var bytes: [UInt8]
        /// Offset of the first tensor info record (= end of metadata).
        var tensorInfoStart: Int
        /// End of the last tensor info record (before padding).
        var headerEnd: Int
        /// Start of the (aligned) data section.
        var dataOffset: Int
        /// Relative offset and byte size of each tensor's data.
        var tensorOffsets: [UInt64]
        var tensorSizes: [Int]
        /// Absolute offsets where each metadata entry / tensor info starts.
        var kvStarts: [Int]
        var tensorInfoStarts: [Int]
    }

    var magic: UInt32 = GGUFHeader.magic
    var version: UInt32 = 3
    /// Alignment used for padding and offsets (does not write general.alignment by itself).
    var alignment = 32
    var kvs: [(key: [UInt8], value: GGUFTestValue)] = []
    var tensors: [Tensor] = []
    var tensorCountOverride: UInt64?
    var kvCountOverride: UInt64?
    /// Bytes appended after the last tensor's data.
    var trailingBytes = 0
    /// When set, the data section has exactly this many bytes (may cut tensors short).
    var dataSizeOverride: Int?

    init(version: UInt32 = 3, alignment: Int = 32) {
        self.version = version
        self.alignment = alignment
    }

    mutating func add(_ key: String, _ value: GGUFTestValue) { kvs.append((Array(key.utf8), value)) }
    mutating func add(keyBytes: [UInt8], _ value: GGUFTestValue) { kvs.append((keyBytes, value)) }

    mutating func addTensor(_ name: String, _ dims: [UInt64], _ type: DType, offset: UInt64? = nil) {
        tensors.append(Tensor(name: Array(name.utf8), dims: dims, type: UInt32(type.rawValue), offset: offset))
    }
    mutating func addTensor(_ name: String, _ dims: [UInt64], rawType: UInt32, offset: UInt64? = nil, rankOverride: UInt32? = nil) {
        tensors.append(Tensor(name: Array(name.utf8), dims: dims, type: rawType, offset: offset, rankOverride: rankOverride))
    }

    /// Data size of a tensor, or 0 when its description is not valid.
    static func byteSize(dims: [UInt64], type: UInt32) -> Int {
        guard let dt = DType(rawValue: Int32(bitPattern: type)), let first = dims.first else { return 0 }
        var n: UInt64 = 1
        for d in dims {
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o || p > (1 << 26) { return 0 }
            n = p
        }
        guard first % UInt64(dt.blockElements) == 0 else { return 0 }
        return Int(n) / dt.blockElements * dt.blockBytes
    }

    func build() -> Image {
        var s = ByteSink()
        s.u32(magic)
        s.u32(version)
        s.u64(tensorCountOverride ?? UInt64(tensors.count))
        s.u64(kvCountOverride ?? UInt64(kvs.count))
        var kvStarts: [Int] = []
        for kv in kvs {
            kvStarts.append(s.count)
            s.rawString(kv.key)
            s.u32(kv.value.typeID)
            kv.value.writePayload(&s)
        }
        let tensorInfoStart = s.count

        // Lay out tensor data.
        var offsets: [UInt64] = []
        var sizes: [Int] = []
        var cursor = 0
        var dataEnd = 0
        for t in tensors {
            let size = Self.byteSize(dims: t.dims, type: t.type)
            let off: UInt64
            if let o = t.offset {
                off = o
            } else {
                cursor = (cursor + alignment - 1) / alignment * alignment
                off = UInt64(cursor)
                cursor += size
            }
            offsets.append(off)
            sizes.append(size)
            if off < (1 << 26) { dataEnd = max(dataEnd, Int(off) + size) }
        }

        var tensorInfoStarts: [Int] = []
        for (i, t) in tensors.enumerated() {
            tensorInfoStarts.append(s.count)
            s.rawString(t.name)
            s.u32(t.rankOverride ?? UInt32(t.dims.count))
            for d in t.dims { s.u64(d) }
            s.u32(t.type)
            s.u64(offsets[i])
        }
        let headerEnd = s.count
        s.pad(to: alignment)
        let dataOffset = s.count

        let dataSize = dataSizeOverride ?? (dataEnd + trailingBytes)
        var data = [UInt8](repeating: 0xEE, count: dataSize)
        // Fill each tensor's bytes with (index + 1) so tests can find them.
        for (i, off) in offsets.enumerated() where off < UInt64(dataSize) {
            let start = Int(off)
            let end = min(dataSize, start + sizes[i])
            for j in start..<end { data[j] = UInt8(truncatingIfNeeded: i + 1) }
        }
        s.bytes.append(contentsOf: data)
        return Image(bytes: s.bytes, tensorInfoStart: tensorInfoStart, headerEnd: headerEnd, dataOffset: dataOffset,
                     tensorOffsets: offsets, tensorSizes: sizes, kvStarts: kvStarts, tensorInfoStarts: tensorInfoStarts)
    }
}

/// Parses a byte image with `GGUFHeader`.
func parseGGUF(_ bytes: [UInt8]) throws -> GGUFHeader {
    try bytes.withUnsafeBytes { try GGUFHeader(bytes: $0) }
}


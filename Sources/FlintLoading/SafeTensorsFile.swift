import FlintTensor
import Foundation

/// Element types a safetensors header may name. All of them are accepted when the file
/// is opened (their sizes are known, so every tensor's extent is still checked); only
/// F32, F16 and BF16 can be read as floats. A dtype outside this list fails at open,
/// because the tensor's size could not be verified.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8"
    case bool = "BOOL", f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"

    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .f16, .bf16, .i16, .u16: 2
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2: 1
        }
    }

    public var isReadableAsFloat: Bool { self == .f32 || self == .f16 || self == .bf16 }
}

/// Where one tensor lives in a safetensors file. `shape` is row-major (PyTorch order):
/// the last dimension varies fastest.
public struct SafeTensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    /// Offset of the tensor's bytes relative to the start of the data region.
    public let dataOffset: Int
    public let byteCount: Int

    public var elementCount: Int { byteCount / dtype.byteSize }
}

/// A safetensors file: an 8-byte little-endian header length, a JSON header, then the
/// tensor bytes. Nothing in the header is trusted: every offset, size, shape and type
/// is checked at open, so reading a tensor afterwards cannot go out of bounds.
public final class SafeTensorsFile: Sendable {
    /// A header this large would be a JSON document no writer produces; the limit
    /// keeps a hostile length from making us parse (or allocate for) gigabytes.
    public static let maxHeaderBytes = 100_000_000

    public let path: String?
    /// Tensors sorted by name.
    public let tensors: [SafeTensorsTensorInfo]
    public let metadata: [String: String]
    /// Absolute offset of the data region (8 + header length).
    public let dataRegionOffset: Int
    public let dataRegionSize: Int

    private let index: [String: Int]
    private let mapping: MappedFile?
    private let owned: [UInt8]?

    public init(path: String) throws {
        let mapping: MappedFile
        do {
            mapping = try MappedFile(path: path)
        } catch MappedFile.Failure.empty {
            throw SafeTensorsError.fileTooSmall(size: 0)
        } catch {
            throw SafeTensorsError.io("\(error)")
        }
        let parsed = try Self.parse(mapping.bytes)
        self.path = path
        self.mapping = mapping
        self.owned = nil
        (tensors, metadata, dataRegionOffset, dataRegionSize) = parsed
        index = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
    }

    /// Parses an in-memory image (tests, uploads held in memory).
    public init(bytes: [UInt8]) throws {
        let parsed = try bytes.withUnsafeBytes { try Self.parse($0) }
        self.path = nil
        self.mapping = nil
        self.owned = bytes
        (tensors, metadata, dataRegionOffset, dataRegionSize) = parsed
        index = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
    }

    public var tensorNames: [String] { tensors.map(\.name) }

    public func info(_ name: String) -> SafeTensorsTensorInfo? { index[name].map { tensors[$0] } }

    /// The tensor's elements converted to f32, in row-major order.
    public func floats(_ name: String) throws -> [Float] {
        guard let t = info(name) else { throw SafeTensorsError.missingTensor(name) }
        guard t.dtype.isReadableAsFloat else { throw SafeTensorsError.unsupportedDType(tensor: name, dtype: t.dtype.rawValue) }
        return withData { data in
            let src = UnsafeRawBufferPointer(rebasing: data[(dataRegionOffset + t.dataOffset)...].prefix(t.byteCount))
            return FloatConversion.toFloats(src, dtype: t.dtype, count: t.elementCount)
        }
    }

    private func withData<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if let mapping { return try body(mapping.bytes) }
        return try owned!.withUnsafeBytes(body)
    }

    // MARK: parsing

    private static func parse(_ bytes: UnsafeRawBufferPointer) throws
        -> ([SafeTensorsTensorInfo], [String: String], Int, Int)
    {
        guard bytes.count >= 8 else { throw SafeTensorsError.fileTooSmall(size: bytes.count) }
        let headerLength = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(maxHeaderBytes), headerLength <= UInt64(bytes.count - 8) else {
            throw SafeTensorsError.headerTooLarge(length: headerLength, fileSize: bytes.count)
        }
        let n = Int(headerLength)
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + n)])
        // JSONDecoder would accept invalid UTF-8 in some versions by replacement; the
        // format says UTF-8, so check before parsing.
        var iterator = headerBytes.makeIterator()
        var utf8 = UTF8()
        decoding: while true {
            switch utf8.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: break decoding
            case .error: throw SafeTensorsError.headerNotUTF8
            }
        }
        let header: HeaderJSON
        do {
            header = try JSONDecoder().decode(HeaderJSON.self, from: Data(headerBytes))
        } catch let e as SafeTensorsError {
            throw e
        } catch DecodingError.typeMismatch {
            throw SafeTensorsError.headerNotObject
        } catch DecodingError.dataCorrupted(let c) {
            throw SafeTensorsError.headerNotJSON(c.underlyingError.map { "\($0)" } ?? c.debugDescription)
        } catch {
            throw SafeTensorsError.headerNotJSON("\(error)")
        }

        let dataOffset = 8 + n
        let dataSize = bytes.count - dataOffset
        var infos: [SafeTensorsTensorInfo] = []
        infos.reserveCapacity(header.entries.count)
        for (name, e) in header.entries {
            guard let dtype = SafeTensorsDType(rawValue: e.dtype) else {
                throw SafeTensorsError.unknownDType(tensor: name, dtype: e.dtype)
            }
            var count = 1
            for d in e.shape {
                guard d >= 0 else { throw SafeTensorsError.badShape(tensor: name, shape: e.shape, problem: "negative dimension") }
                let (p, o) = count.multipliedReportingOverflow(by: d)
                guard !o else { throw SafeTensorsError.badShape(tensor: name, shape: e.shape, problem: "element count overflows") }
                count = p
            }
            let (bytesNeeded, o) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !o else { throw SafeTensorsError.badShape(tensor: name, shape: e.shape, problem: "byte size overflows") }
            let begin = e.offsets.0, end = e.offsets.1
            guard begin >= 0, end >= begin, end <= dataSize else {
                throw SafeTensorsError.outOfBounds(tensor: name, begin: begin, end: end, dataSize: dataSize)
            }
            guard end - begin == bytesNeeded else {
                throw SafeTensorsError.sizeMismatch(tensor: name, dtype: dtype.rawValue, shape: e.shape,
                                                    expectedBytes: bytesNeeded, declaredBytes: end - begin)
            }
            infos.append(SafeTensorsTensorInfo(name: name, dtype: dtype, shape: e.shape, dataOffset: begin, byteCount: end - begin))
        }
        // Empty tensors occupy no bytes and cannot overlap anything.
        let byOffset = infos.filter { $0.byteCount > 0 }.sorted { ($0.dataOffset, $0.name) < ($1.dataOffset, $1.name) }
        for (prev, next) in zip(byOffset, byOffset.dropFirst()) where next.dataOffset < prev.dataOffset + prev.byteCount {
            throw SafeTensorsError.overlap(first: prev.name, second: next.name)
        }
        infos.sort { $0.name < $1.name }
        return (infos, header.metadata, dataOffset, dataSize)
    }
}

/// The header as decoded: each key is either `__metadata__` or a tensor entry. Type
/// problems are reported per tensor rather than as a generic decoding error.
private struct HeaderJSON: Decodable {
    struct Entry {
        var dtype: String
        var shape: [Int]
        var offsets: (Int, Int)
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    var entries: [(String, Entry)] = []
    var metadata: [String: String] = [:]

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        for key in c.allKeys {
            let name = key.stringValue
            if name == "__metadata__" {
                do { metadata = try c.decode([String: String].self, forKey: key) } catch {
                    throw SafeTensorsError.badMetadata("it must be an object whose values are all strings")
                }
                continue
            }
            let e: KeyedDecodingContainer<Key>
            do { e = try c.nestedContainer(keyedBy: Key.self, forKey: key) } catch {
                throw SafeTensorsError.badEntry(tensor: name, problem: "entry is not an object")
            }
            func field<T: Decodable>(_ k: String, _ what: String) throws -> T {
                guard e.contains(Key(stringValue: k)) else {
                    throw SafeTensorsError.badEntry(tensor: name, problem: "'\(k)' is missing")
                }
                do { return try e.decode(T.self, forKey: Key(stringValue: k)) } catch {
                    throw SafeTensorsError.badEntry(tensor: name, problem: "'\(k)' is not \(what)")
                }
            }
            let dtype: String = try field("dtype", "a string")
            let shape: [Int] = try field("shape", "a list of integers")
            let offsets: [Int] = try field("data_offsets", "a list of integers")
            guard offsets.count == 2 else {
                throw SafeTensorsError.badEntry(tensor: name, problem: "'data_offsets' has \(offsets.count) values, expected 2")
            }
            // A real tensor never has this many dimensions; the bound keeps the
            // element-count loop and error messages small.
            guard shape.count <= 16 else {
                throw SafeTensorsError.badShape(tensor: name, shape: Array(shape.prefix(16)), problem: "\(shape.count) dimensions (at most 16)")
            }
            entries.append((name, Entry(dtype: dtype, shape: shape, offsets: (offsets[0], offsets[1]))))
        }
    }
}

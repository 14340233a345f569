import XCTest
import Foundation
import FlintLoading
import FlintTensor
import FlintTestSupport

/// Positions of the structural fields of a (valid) GGUF header, found by an independent walk.
struct GGUFFieldMap {
    enum Kind: CaseIterable {
        case tensorCount, kvCount, keyLength, valueType, stringLength, arrayElementType, arrayCount
        case tensorNameLength, tensorRank, tensorDim, tensorType, tensorOffset
    }
    struct Field {
        var offset: Int
        var width: Int  // 4 or 8
        var kind: Kind
    }

    private let bytes: UnsafeRawBufferPointer
    private var o = 0
    private(set) var fields: [Field] = []
    private(set) var tensorInfoStart = 0
    private(set) var headerEnd = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        o = 8
        let nTensors = field(.tensorCount, 8)
        let nKV = field(.kvCount, 8)
        for _ in 0..<nKV {
            o += Int(field(.keyLength, 8))
            value(type: UInt32(field(.valueType, 4)))
        }
        tensorInfoStart = o
        for _ in 0..<nTensors {
            o += Int(field(.tensorNameLength, 8))
            let rank = field(.tensorRank, 4)
            for _ in 0..<rank { _ = field(.tensorDim, 8) }
            _ = field(.tensorType, 4)
            _ = field(.tensorOffset, 8)
        }
        headerEnd = o
    }

    private mutating func field(_ kind: Kind, _ width: Int) -> UInt64 {
        precondition(o + width <= bytes.count, "walker ran off the end (the original file must be valid)")
        fields.append(Field(offset: o, width: width, kind: kind))
        let v = width == 4
            ? UInt64(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt32.self)))
            : UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt64.self))
        o += width
        return v
    }

    private static let fixedSize: [UInt32: Int] = [0: 1, 1: 1, 7: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 10: 8, 11: 8, 12: 8]

    private mutating func value(type: UInt32) {
        if let size = Self.fixedSize[type] {
            o += size
        } else if type == 8 {
            o += Int(field(.stringLength, 8))
        } else {
            precondition(type == 9, "unexpected type \(type) in the original file")
            let elemType = UInt32(field(.arrayElementType, 4))
            let count = Int(field(.arrayCount, 8))
            if let size = Self.fixedSize[elemType] {
                o += size * count
            } else {
                for _ in 0..<count { value(type: elemType) }
            }
        }
    }
}

final class GGUFRobustnessTests: XCTestCase {
    private static let extremeU64: [UInt64] = [
        0, 1, 2, 3, 7, 8, 31, 32, 33, 255, 0xFFFF, 1 << 31, (1 << 31) - 1, 1 << 32, 0xFFFF_FFFF,
        1 << 40, 1 << 62, 1 << 63, UInt64.max, UInt64.max - 1, UInt64(Int.max),
    ]
    private static let extremeU32: [UInt32] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 30, 31, 255, 0xFFFF, 1 << 31, 0xFFFF_FFFF, 0x7FFF_FFFF,
    ]

    private enum Outcome { case parsed, threw }

    /// Parses `bytes`; a successful parse is checked for internal consistency.
    private func check(_ bytes: UnsafeRawBufferPointer, _ label: @autoclosure () -> String) -> Outcome? {
        do {
            let h = try GGUFHeader(bytes: bytes)
            XCTAssertEqual(h.dataOffset % h.alignment, 0, label())
            XCTAssertEqual(h.tensorIndex.count, h.tensors.count, label())
            for t in h.tensors where t.fileOffset < h.dataOffset || t.fileOffset + t.byteCount > bytes.count {
                XCTFail("\(label()): tensor \(t.name) [\(t.fileOffset), +\(t.byteCount)) outside \(bytes.count) bytes")
            }
            return .parsed
        } catch is GGUFError {
            return .threw
        } catch {
            XCTFail("\(label()): non-GGUF error \(error)")
            return nil
        }
    }

    func testMutatedRealFileParsesOrThrows() throws {
        let path = try TestModels.path("smollm2-135m-instruct")
        let file = try GGUFFile(path: path)
        let size = file.mapping.size
        let dataOffset = file.header.dataOffset

        // Read the file into memory once; every variant is produced inside this buffer.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        defer { buffer.deallocate() }
        buffer.copyMemory(from: UnsafeRawBufferPointer(start: file.mapping.base, count: size))
        let whole = UnsafeRawBufferPointer(buffer)
        let originalHeader = Array(whole[0..<dataOffset])
        func restore() { originalHeader.withUnsafeBytes { buffer.copyMemory(from: $0) } }

        let map = GGUFFieldMap(whole)
        XCTAssertEqual((map.headerEnd + file.header.alignment - 1) / file.header.alignment * file.header.alignment, dataOffset)
        let fieldsByKind = Dictionary(grouping: map.fields, by: \.kind)
        XCTAssertEqual(Set(fieldsByKind.keys).count, GGUFFieldMap.Kind.allCases.count, "every field kind occurs")
        let kinds = GGUFFieldMap.Kind.allCases

        var rng = SplitMix64(seed: 0x5EED_F117_2024)
        var counts: [String: (parsed: Int, threw: Int)] = [:]
        func record(_ group: String, _ outcome: Outcome?) {
            guard let outcome else { return }
            var c = counts[group, default: (0, 0)]
            if outcome == .parsed { c.parsed += 1 } else { c.threw += 1 }
            counts[group] = c
        }

        // 1. Truncation: header (metadata) region, tensor-info region, data region, plus edges.
        var cuts: [(String, Int)] = []
        for _ in 0..<120 { cuts.append(("truncate.metadata", rng.below(map.tensorInfoStart))) }
        for _ in 0..<120 { cuts.append(("truncate.tensorInfo", rng.inRange(map.tensorInfoStart..<(dataOffset + 1)))) }
        for _ in 0..<120 { cuts.append(("truncate.data", rng.inRange((dataOffset + 1)..<size))) }
        for n in [0, 1, 3, 4, 7, 8, 15, 16, 23, 24, map.tensorInfoStart, map.headerEnd, dataOffset, size - 1] {
            cuts.append(("truncate.edge", n))
        }
        for (group, n) in cuts {
            let outcome = check(UnsafeRawBufferPointer(rebasing: whole[0..<n]), "\(group) at \(n)")
            XCTAssertEqual(outcome, .threw, "\(group): prefix of \(n) of \(size) bytes parsed")
            record(group, outcome)
        }

        // 2. Random bytes overwritten inside the header (first dataOffset bytes).
        for v in 0..<450 {
            let region: Range<Int>
            switch v % 3 {
            case 0: region = 0..<dataOffset
            case 1: region = 0..<min(4096, dataOffset)  // the small keys at the front
            default: region = map.tensorInfoStart..<dataOffset
            }
            let nBytes = 1 + rng.below(8)
            var desc: [String] = []
            for _ in 0..<nBytes {
                let pos = rng.inRange(region)
                let byte = UInt8(truncatingIfNeeded: rng.next())
                buffer[pos] = byte
                desc.append("\(pos)=\(byte)")
            }
            record("bytes", check(whole, "byte mutation #\(v) [\(desc.joined(separator: ","))]"))
            restore()
        }

        // 3. Structural fields overwritten with extreme or random values.
        for v in 0..<450 {
            let kind = kinds[rng.below(kinds.count)]
            let candidates = fieldsByKind[kind]!
            let f = candidates[rng.below(candidates.count)]
            let original = f.width == 4
                ? UInt64(buffer.loadUnaligned(fromByteOffset: f.offset, as: UInt32.self))
                : buffer.loadUnaligned(fromByteOffset: f.offset, as: UInt64.self)
            let newValue: UInt64
            switch rng.below(5) {
            case 0: newValue = rng.next()
            case 1: newValue = original &+ 1
            case 2: newValue = original &- 1
            default:
                newValue = f.width == 4
                    ? UInt64(Self.extremeU32[rng.below(Self.extremeU32.count)])
                    : Self.extremeU64[rng.below(Self.extremeU64.count)]
            }
            if f.width == 4 {
                buffer.storeBytes(of: UInt32(truncatingIfNeeded: newValue).littleEndian, toByteOffset: f.offset, as: UInt32.self)
            } else {
                buffer.storeBytes(of: newValue.littleEndian, toByteOffset: f.offset, as: UInt64.self)
            }
            // Sometimes also cut the file, so a bad field meets a short file.
            let n = v % 4 == 3 ? rng.inRange(f.offset..<size) : size
            record("field.\(kind)", check(UnsafeRawBufferPointer(rebasing: whole[0..<n]),
                                          "field mutation #\(v): \(kind) at \(f.offset) \(original) -> \(newValue), length \(n)"))
            restore()
        }

        // The buffer is back to the original and still parses to the same header.
        let again = try GGUFHeader(bytes: whole)
        XCTAssertEqual(again.tensors, file.header.tensors)
        XCTAssertEqual(again.metadata, file.header.metadata)

        let parsed = counts.values.reduce(0) { $0 + $1.parsed }
        let threw = counts.values.reduce(0) { $0 + $1.threw }
        for (group, c) in counts.sorted(by: { $0.key < $1.key }) {
            print("GGUF robustness \(group): \(c.parsed) parsed, \(c.threw) threw")
        }
        print("GGUF robustness total: \(parsed + threw) variants, \(parsed) parsed, \(threw) threw")
        XCTAssertGreaterThanOrEqual(parsed + threw, 1000)
        XCTAssertGreaterThan(parsed, 0, "some mutations (e.g. inside token strings) leave a valid file")
        XCTAssertGreaterThan(threw, 0)
    }

    /// A few mutated variants go through the mmap path (`GGUFFile(path:)`).
    func testMutatedFilesThroughMmap() throws {
        let path = try TestModels.path("smollm2-135m-instruct")
        let file = try GGUFFile(path: path)
        let full = UnsafeRawBufferPointer(start: file.mapping.base, count: file.mapping.size)
        let dataOffset = file.header.dataOffset
        let map = GGUFFieldMap(full)
        let tokensCount = try XCTUnwrap(map.fields.first { f in
            f.kind == .arrayCount && full.loadUnaligned(fromByteOffset: f.offset, as: UInt64.self) == 49152
        })
        let firstRank = try XCTUnwrap(map.fields.first { $0.kind == .tensorRank })

        func load(_ bytes: UnsafeRawBufferPointer, _ name: String) throws -> Result<GGUFFile, GGUFError> {
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("flint-test-\(getpid())-\(name).gguf")
            try Data(bytes: bytes.baseAddress!, count: bytes.count).write(to: url)
            defer { try? FileManager.default.removeItem(at: url) }
            do { return .success(try GGUFFile(path: url.path)) } catch let e as GGUFError { return .failure(e) }
        }

        // Truncated in the metadata, in the tensor infos, and 1 MB into the data.
        for (name, n) in [("cut-meta", 100_000), ("cut-tensors", map.tensorInfoStart + 1000), ("cut-data", dataOffset + (1 << 20))] {
            let r = try load(UnsafeRawBufferPointer(rebasing: full[0..<n]), name)
            guard case .failure(let e) = r else { XCTFail("\(name) parsed"); continue }
            switch e {
            case .truncated, .countTooLarge, .tensorOutOfBounds: break
            default: XCTFail("\(name): unexpected \(e)")
            }
        }

        // Whole-file copies with one structural field changed.
        var bytes = [UInt8](full)
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: (UInt64(1) << 62).littleEndian, toByteOffset: tokensCount.offset, as: UInt64.self) }
        let r1 = try bytes.withUnsafeBytes { try load($0, "huge-count") }
        XCTAssertEqual(r1.failure, .countTooLarge(count: 1 << 62, offset: tokensCount.offset + 8, what: "array 'tokenizer.ggml.tokens'"))

        restoreAndSet(&bytes, full, firstRank.offset, UInt32(5))
        let r2 = try bytes.withUnsafeBytes { try load($0, "rank") }
        XCTAssertEqual(r2.failure, .badTensorRank(name: "token_embd.weight", dims: 5))

        // Unmodified copy loads fine through the same path.
        bytes.withUnsafeMutableBytes { $0.copyMemory(from: full) }
        let r3 = try bytes.withUnsafeBytes { try load($0, "copy") }
        XCTAssertEqual(try r3.get().tensors.count, 272)
    }

    private func restoreAndSet(_ bytes: inout [UInt8], _ original: UnsafeRawBufferPointer, _ offset: Int, _ v: UInt32) {
        bytes.withUnsafeMutableBytes {
            $0.copyMemory(from: original)
            $0.storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt32.self)
        }
    }
}

private extension Result {
    var failure: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}

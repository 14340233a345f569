import XCTest
import Foundation
import FlintLoading
import FlintTensor

private func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
private func le64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

final class GGUFErrorTests: XCTestCase {
    /// Asserts that parsing `bytes` throws exactly `expected`.
    private func assertThrows(_ bytes: [UInt8], _ expected: GGUFError, _ message: String = "",
                              file: StaticString = #filePath, line: UInt = #line) {
        do {
            let h = try parseGGUF(bytes)
            XCTFail("parsed (\(h.metadata.count) keys, \(h.tensors.count) tensors), expected \(expected) \(message)", file: file, line: line)
        } catch let e as GGUFError {
            XCTAssertEqual(e, expected, message, file: file, line: line)
        } catch {
            XCTFail("non-GGUF error \(error) \(message)", file: file, line: line)
        }
    }

    private func assertThrows(_ w: GGUFTestWriter, _ expected: GGUFError, _ message: String = "",
                              file: StaticString = #filePath, line: UInt = #line) {
        assertThrows(w.build().bytes, expected, message, file: file, line: line)
    }

    /// Offset of the value payload of the metadata entry `i` (after key and type).
    private func payloadOffset(_ img: GGUFTestWriter.Image, _ w: GGUFTestWriter, _ i: Int) -> Int {
        img.kvStarts[i] + 8 + w.kvs[i].key.count + 4
    }

    /// One key and one Q8_0 tensor with a known layout (see testKnownLayout).
    private func smallFile() -> GGUFTestWriter {
        var w = GGUFTestWriter()
        w.add("general.architecture", .string("llama"))
        w.addTensor("w", [32, 2], .q8_0)
        return w
    }

    func testKnownLayout() throws {
        let img = smallFile().build()
        XCTAssertEqual(img.kvStarts, [24])
        XCTAssertEqual(img.tensorInfoStart, 69)
        XCTAssertEqual(img.headerEnd, 110)
        XCTAssertEqual(img.dataOffset, 128)
        XCTAssertEqual(img.bytes.count, 128 + 68)
        let h = try parseGGUF(img.bytes)
        XCTAssertEqual(h.tensors.first?.byteCount, 68)
    }

    // MARK: magic and version

    func testBadMagic() {
        var w = smallFile()
        w.magic = 0x4C4D_4747  // "GGML"
        assertThrows(w, .badMagic(found: 0x4C4D_4747))
        var bytes = smallFile().build().bytes
        bytes[3] = 0x47
        assertThrows(bytes, .badMagic(found: 0x4755_4747))
        assertThrows([UInt8](repeating: 0, count: 64), .badMagic(found: 0))
        XCTAssertTrue("\(GGUFError.badMagic(found: 0x4C4D_4747))".contains("0x4c4d4747"))
    }

    func testUnsupportedVersion() {
        for v: UInt32 in [0, 1, 4, 0xFFFF_FFFF] {
            var w = smallFile()
            w.version = v
            assertThrows(w, .unsupportedVersion(v))
        }
    }

    // MARK: truncation

    func testTruncatedAtKnownPoints() {
        let bytes = smallFile().build().bytes
        func cut(_ n: Int) -> [UInt8] { Array(bytes.prefix(n)) }
        assertThrows([], .truncated(offset: 0, need: 4, fileSize: 0, what: "magic"))
        assertThrows(cut(2), .truncated(offset: 0, need: 4, fileSize: 2, what: "magic"))
        assertThrows(cut(6), .truncated(offset: 4, need: 4, fileSize: 6, what: "version"))
        assertThrows(cut(12), .truncated(offset: 8, need: 8, fileSize: 12, what: "tensor count"))
        assertThrows(cut(20), .truncated(offset: 16, need: 8, fileSize: 20, what: "metadata count"))
        assertThrows(cut(30), .countTooLarge(count: 1, offset: 24, what: "metadata"))
        assertThrows(cut(40), .truncated(offset: 32, need: 20, fileSize: 40, what: "metadata key #0"))
        assertThrows(cut(54), .truncated(offset: 52, need: 4, fileSize: 54, what: "type of 'general.architecture'"))
        assertThrows(cut(60), .truncated(offset: 56, need: 8, fileSize: 60, what: "value of 'general.architecture'"))
        assertThrows(cut(66), .truncated(offset: 64, need: 5, fileSize: 66, what: "value of 'general.architecture'"))
        assertThrows(cut(69), .countTooLarge(count: 1, offset: 69, what: "tensor"))
        // Fewer than 32 bytes left for the one tensor record: rejected before reading it.
        assertThrows(cut(80), .countTooLarge(count: 1, offset: 69, what: "tensor"))
        assertThrows(cut(100), .countTooLarge(count: 1, offset: 69, what: "tensor"))
        assertThrows(cut(105), .truncated(offset: 102, need: 8, fileSize: 105, what: "data offset of tensor 'w'"))
        assertThrows(cut(110), .tensorOutOfBounds(name: "w", start: 0, size: 68, dataSize: 0))
        assertThrows(cut(150), .tensorOutOfBounds(name: "w", start: 0, size: 68, dataSize: 22))
        assertThrows(cut(195), .tensorOutOfBounds(name: "w", start: 0, size: 68, dataSize: 67))
        XCTAssertNoThrow(try parseGGUF(cut(196)))

        // A rank-4 tensor: its record is long enough to truncate inside after the count check.
        var w4 = GGUFTestWriter()
        w4.add("general.architecture", .string("llama"))
        w4.addTensor("w", [32, 1, 1, 2], .q8_0)
        let b4 = w4.build().bytes
        XCTAssertEqual(w4.build().headerEnd, 126)
        assertThrows(Array(b4.prefix(80)), .countTooLarge(count: 1, offset: 69, what: "tensor"))
        assertThrows(Array(b4.prefix(103)), .truncated(offset: 98, need: 8, fileSize: 103, what: "dimension 2 of tensor 'w'"))
        assertThrows(Array(b4.prefix(110)), .truncated(offset: 106, need: 8, fileSize: 110, what: "dimension 3 of tensor 'w'"))
        assertThrows(Array(b4.prefix(116)), .truncated(offset: 114, need: 4, fileSize: 116, what: "type of tensor 'w'"))
        assertThrows(Array(b4.prefix(120)), .truncated(offset: 118, need: 8, fileSize: 120, what: "data offset of tensor 'w'"))
        assertThrows(Array(b4.prefix(126)), .tensorOutOfBounds(name: "w", start: 0, size: 68, dataSize: 0))
        XCTAssertNoThrow(try parseGGUF(b4))

        // Two tensors: the count check needs 64 bytes, then the second record is cut.
        var w2 = smallFile()
        w2.addTensor("v", [4], .f32)
        let b2 = w2.build().bytes
        XCTAssertEqual(w2.build().tensorInfoStarts, [69, 110])
        assertThrows(Array(b2.prefix(132)), .countTooLarge(count: 2, offset: 69, what: "tensor"))
        assertThrows(Array(b2.prefix(134)), .truncated(offset: 131, need: 4, fileSize: 134, what: "type of tensor 'v'"))
        assertThrows(Array(b2.prefix(140)), .truncated(offset: 135, need: 8, fileSize: 140, what: "data offset of tensor 'v'"))
    }

    func testTruncationMessagesMentionOffset() {
        let e = GGUFError.truncated(offset: 102, need: 8, fileSize: 105, what: "data offset of tensor 'w'")
        let d = "\(e)"
        XCTAssertTrue(d.contains("offset 102"), d)
        XCTAssertTrue(d.contains("105 bytes"), d)
        XCTAssertTrue(d.contains("data offset of tensor 'w'"), d)
    }

    /// Every proper prefix of a richer file fails with a truncation-type error whose
    /// message names the offset, never parses and never traps.
    func testEveryPrefixFails() {
        var w = GGUFTestWriter(alignment: 64)
        w.add("general.alignment", .u32(64))
        w.add("s", .string("abc"))
        w.add("a", .strings(["x", "yz"]))
        w.add("n", .array(elementType: 9, [.i32s([1, 2]), .strings(["q"])]))
        w.add("f", .f64(1))
        w.addTensor("t0", [32, 2], .q8_0)
        w.addTensor("t1", [4], .f32)
        let bytes = w.build().bytes
        XCTAssertNoThrow(try parseGGUF(bytes))
        for n in 0..<bytes.count {
            do {
                _ = try parseGGUF(Array(bytes.prefix(n)))
                XCTFail("prefix of \(n) bytes parsed")
            } catch let e as GGUFError {
                switch e {
                case .truncated(let o, let need, let size, _):
                    XCTAssertEqual(size, n)
                    XCTAssertGreaterThan(need, size - o)
                    XCTAssertTrue("\(e)".contains("at offset \(o)"), "\(e)")
                case .countTooLarge(_, let o, _):
                    XCTAssertTrue("\(e)".contains("at offset \(o)"), "\(e)")
                case .tensorOutOfBounds:
                    break
                default:
                    XCTFail("prefix \(n): unexpected \(e)")
                }
            } catch {
                XCTFail("prefix \(n): non-GGUF error \(error)")
            }
        }
    }

    func testStringLengthBeyondFile() {
        var w = GGUFTestWriter()
        w.add("s", .raw(type: 8, payload: le64(1000) + Array("abc".utf8)))
        let img = w.build()
        let p = payloadOffset(img, w, 0)
        assertThrows(img.bytes, .truncated(offset: p + 8, need: 1000, fileSize: img.bytes.count, what: "value of 's'"))

        var w2 = GGUFTestWriter()
        w2.add("s", .raw(type: 8, payload: le64(UInt64.max)))
        let img2 = w2.build()
        assertThrows(img2.bytes, .truncated(offset: payloadOffset(img2, w2, 0) + 8, need: Int.max,
                                            fileSize: img2.bytes.count, what: "value of 's'"))

        // A key whose length runs past the end.
        var bytes = smallFile().build().bytes
        bytes.replaceSubrange(24..<32, with: le64(1 << 40))
        assertThrows(bytes, .truncated(offset: 32, need: 1 << 40, fileSize: bytes.count, what: "metadata key #0"))

        // A string inside an array.
        var w3 = GGUFTestWriter()
        w3.add("arr", .raw(type: 9, payload: le32(8) + le64(2) + le64(1) + [0x41] + le64(500)))
        let img3 = w3.build()
        let q = payloadOffset(img3, w3, 0) + 12 + 9 + 8
        assertThrows(img3.bytes, .truncated(offset: q, need: 500, fileSize: img3.bytes.count, what: "element 1 of 'arr'"))

        // A tensor name.
        var bytes4 = smallFile().build().bytes
        bytes4.replaceSubrange(69..<77, with: le64(0x7FFF_FFFF))
        assertThrows(bytes4, .truncated(offset: 77, need: 0x7FFF_FFFF, fileSize: bytes4.count, what: "name of tensor #0"))
    }

    func testHugeCounts() {
        // Arrays: every element type with count 2^62 and UInt64.max.
        for elemType: UInt32 in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] {
            for count: UInt64 in [1 << 62, UInt64.max, 1 << 32] {
                var w = GGUFTestWriter()
                w.add("huge", .raw(type: 9, payload: le32(elemType) + le64(count)))
                w.add("next", .u8(1))
                let img = w.build()
                let p = payloadOffset(img, w, 0) + 12
                assertThrows(img.bytes, .countTooLarge(count: count, offset: p, what: "array 'huge'"), "type \(elemType)")
            }
        }
        // Metadata and tensor counts.
        for count: UInt64 in [1 << 62, UInt64.max, 1 << 31] {
            var w = smallFile()
            w.kvCountOverride = count
            assertThrows(w, .countTooLarge(count: count, offset: 24, what: "metadata"))
            var w2 = smallFile()
            w2.tensorCountOverride = count
            assertThrows(w2, .countTooLarge(count: count, offset: 69, what: "tensor"))
        }
        // A count that is small in absolute terms but more than the bytes left.
        var w = GGUFTestWriter()
        w.add("a", .raw(type: 9, payload: le32(4) + le64(3) + le32(1) + le32(2)))
        let img = w.build()
        // Only 8 bytes follow the count when the file is cut there: 3 u32 elements cannot fit.
        let cut = Array(img.bytes.prefix(payloadOffset(img, w, 0) + 12 + 8))
        assertThrows(cut, .countTooLarge(count: 3, offset: payloadOffset(img, w, 0) + 12, what: "array 'a'"))
    }

    func testInvalidValueType() {
        for t: UInt32 in [13, 14, 255, 0x8000_0000, 0xFFFF_FFFF] {
            var w = GGUFTestWriter()
            w.add("ok", .u8(1))
            w.add("bad", .raw(type: t, payload: le64(0)))
            let img = w.build()
            assertThrows(img.bytes, .invalidValueType(t, offset: payloadOffset(img, w, 1) - 4, key: "bad"))

            var w2 = GGUFTestWriter()
            w2.add("badarr", .raw(type: 9, payload: le32(t) + le64(1) + le64(0)))
            let img2 = w2.build()
            assertThrows(img2.bytes, .invalidValueType(t, offset: payloadOffset(img2, w2, 0), key: "badarr"))
        }
        // An invalid element type inside a nested array.
        var w3 = GGUFTestWriter()
        w3.add("n", .raw(type: 9, payload: le32(9) + le64(1) + le32(77) + le64(0)))
        let img3 = w3.build()
        assertThrows(img3.bytes, .invalidValueType(77, offset: payloadOffset(img3, w3, 0) + 12, key: "n"))
    }

    func testNestingTooDeep() {
        var deep: GGUFTestValue = .i32s([1])
        for _ in 0..<8 { deep = .array(elementType: 9, [deep]) }  // 9 array levels
        var w = GGUFTestWriter()
        w.add("deep", deep)
        let img = w.build()
        assertThrows(img.bytes, .nestingTooDeep(offset: payloadOffset(img, w, 0) + 8 * 12, key: "deep"))

        // Far deeper nesting (raw headers only) stops at the same level without recursing further.
        var payload: [UInt8] = []
        for _ in 0..<10_000 { payload += le32(9) + le64(1) }
        var w2 = GGUFTestWriter()
        w2.add("deeper", .raw(type: 9, payload: payload))
        let img2 = w2.build()
        assertThrows(img2.bytes, .nestingTooDeep(offset: payloadOffset(img2, w2, 0) + 8 * 12, key: "deeper"))
    }

    func testDuplicateKey() {
        var w = GGUFTestWriter()
        w.add("a", .u8(1))
        w.add("b", .u8(2))
        w.add("a", .string("again"))
        assertThrows(w, .duplicateKey("a"))
    }

    func testDuplicateTensor() {
        var w = GGUFTestWriter()
        w.addTensor("t", [4], .f32)
        w.addTensor("u", [4], .f32)
        w.addTensor("t", [8], .f16)
        assertThrows(w, .duplicateTensor("t"))
    }

    func testBadAlignment() {
        let cases: [(GGUFTestValue, UInt64)] = [
            (.u32(0), 0), (.u32(3), 3), (.u32(48), 48), (.u64(1 << 17), 1 << 17), (.u64(UInt64.max), 0),
            (.i32(-1), UInt64.max), (.i64(Int64.min), 1 << 63), (.string("32"), 0), (.f32(32), 0),
        ]
        for (value, reported) in cases {
            var w = GGUFTestWriter()
            w.add("general.alignment", value)
            w.addTensor("t", [4], .f32)
            assertThrows(w, .badAlignment(reported), "\(value)")
        }
    }

    func testBadTensorRank() {
        var w = GGUFTestWriter()
        w.addTensor("r0", [], .f32)
        assertThrows(w, .badTensorRank(name: "r0", dims: 0))

        var w5 = GGUFTestWriter()
        w5.addTensor("ok", [4], .f32)
        w5.addTensor("r5", [1, 1, 1, 1, 4], .f32)
        assertThrows(w5, .badTensorRank(name: "r5", dims: 5))

        var wHuge = GGUFTestWriter()
        wHuge.addTensor("rh", [4], rawType: 0, rankOverride: 0xFFFF_FFFF)
        assertThrows(wHuge, .badTensorRank(name: "rh", dims: 0xFFFF_FFFF))
    }

    func testZeroDimension() {
        for shape: [UInt64] in [[0], [0, 4], [4, 0], [4, 1, 1, 0]] {
            var w = GGUFTestWriter()
            w.addTensor("z", shape, .f32)
            assertThrows(w, .badTensorShape(name: "z", shape: shape))
        }
    }

    func testDimensionOverflow() {
        for shape: [UInt64] in [[1 << 32, 1 << 32], [UInt64.max, 2], [1 << 40], [1 << 20, 1 << 20], [1 << 63, 1 << 63, 1, 1]] {
            var w = GGUFTestWriter()
            w.addTensor("big", shape, .f32)
            assertThrows(w, .badTensorShape(name: "big", shape: shape))
        }
    }

    func testUnsupportedTensorType() {
        // 4 and 5 were Q4_2/Q4_3 (removed); 9 is Q8_1 and 15 Q8_K (activation-only formats).
        for t: UInt32 in [4, 5, 9, 15, 16, 29, 31, 99, 0xFFFF_FFFF, 0x8000_0000] {
            var w = GGUFTestWriter()
            w.addTensor("q", [256], rawType: t)
            assertThrows(w, .unsupportedTensorType(name: "q", type: t), "type \(t)")
        }
    }

    func testRowNotMultipleOfBlock() {
        let cases: [([UInt64], DType, Int)] = [
            ([33, 2], .q8_0, 32), ([16], .q4_0, 32), ([128, 4], .q4_K, 256), ([300], .q6_K, 256), ([48, 1], .q5_1, 32),
        ]
        for (shape, type, block) in cases {
            var w = GGUFTestWriter()
            w.addTensor("nb", shape, type)
            assertThrows(w, .tensorNotBlockAligned(name: "nb", elements: shape[0], blockElements: block), "\(type)")
        }
        // Only the row length must be a multiple: [32, 3] Q8_0 is fine.
        var ok = GGUFTestWriter()
        ok.addTensor("fine", [32, 3], .q8_0)
        XCTAssertNoThrow(try parseGGUF(ok.build().bytes))
    }

    func testMisalignedOffset() {
        var w = GGUFTestWriter()
        w.addTensor("m", [4], .f32, offset: 16)
        assertThrows(w, .misalignedTensorOffset(name: "m", offset: 16, alignment: 32))

        var w64 = GGUFTestWriter(alignment: 64)
        w64.add("general.alignment", .u32(64))
        w64.addTensor("a", [4], .f32)
        w64.addTensor("m", [4], .f32, offset: 96)
        assertThrows(w64, .misalignedTensorOffset(name: "m", offset: 96, alignment: 64))

        var w1 = GGUFTestWriter()
        w1.addTensor("odd", [4], .f32, offset: UInt64.max)
        assertThrows(w1, .misalignedTensorOffset(name: "odd", offset: UInt64.max, alignment: 32))
    }

    func testTensorOutOfBounds() {
        var w = GGUFTestWriter()
        w.addTensor("a", [8], .f32)
        w.dataSizeOverride = 31
        assertThrows(w, .tensorOutOfBounds(name: "a", start: 0, size: 32, dataSize: 31))

        var w2 = GGUFTestWriter()
        w2.addTensor("a", [8], .f32)
        w2.addTensor("b", [8], .f32, offset: 64)
        w2.dataSizeOverride = 64
        assertThrows(w2, .tensorOutOfBounds(name: "b", start: 64, size: 32, dataSize: 64))

        for offset: UInt64 in [1 << 63, UInt64.max - 31, 1 << 40] {
            var w3 = GGUFTestWriter()
            w3.addTensor("far", [32, 2], .q8_0, offset: offset)
            w3.trailingBytes = 100
            let img = w3.build()
            assertThrows(img.bytes, .tensorOutOfBounds(name: "far", start: offset, size: 68, dataSize: img.bytes.count - img.dataOffset))
        }
    }

    func testInvalidUTF8() {
        let bad: [[UInt8]] = [[0x61, 0xFF, 0x62], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xF8, 0x88, 0x80, 0x80, 0x80]]
        for b in bad {
            var w = GGUFTestWriter()
            w.add("fine", .u8(0))
            w.add(keyBytes: b, .u8(1))
            let img = w.build()
            assertThrows(img.bytes, .invalidUTF8(offset: img.kvStarts[1], what: "metadata key #1"), "\(b)")

            var wv = GGUFTestWriter()
            wv.add("v", .raw(type: 8, payload: le64(UInt64(b.count)) + b))
            let imgv = wv.build()
            assertThrows(imgv.bytes, .invalidUTF8(offset: payloadOffset(imgv, wv, 0), what: "value of 'v'"), "\(b)")

            var wt = GGUFTestWriter()
            wt.tensors.append(.init(name: b, dims: [4], type: 0, offset: nil))
            let imgt = wt.build()
            assertThrows(imgt.bytes, .invalidUTF8(offset: imgt.tensorInfoStart, what: "name of tensor #0"), "\(b)")
        }
    }

    func testErrorDescriptions() {
        // Each case renders a non-empty message naming what is wrong.
        let all: [GGUFError] = [
            .badMagic(found: 1), .unsupportedVersion(1), .truncated(offset: 1, need: 2, fileSize: 3, what: "x"),
            .invalidValueType(13, offset: 5, key: "k"), .invalidUTF8(offset: 7, what: "key"),
            .countTooLarge(count: 9, offset: 10, what: "array"), .nestingTooDeep(offset: 11, key: "k"),
            .duplicateKey("k"), .duplicateTensor("t"), .badAlignment(3), .badTensorRank(name: "t", dims: 5),
            .badTensorShape(name: "t", shape: [0]), .unsupportedTensorType(name: "t", type: 99),
            .tensorNotBlockAligned(name: "t", elements: 33, blockElements: 32),
            .misalignedTensorOffset(name: "t", offset: 3, alignment: 32),
            .tensorOutOfBounds(name: "t", start: UInt64.max, size: 10, dataSize: 0),
            .missingKey("k"), .wrongKeyType(key: "k", expected: "x"), .missingTensor("t"),
            .wrongTensorShape(name: "t", expected: [1], found: [2]), .io("boom"),
        ]
        for e in all { XCTAssertFalse(e.description.isEmpty) }
        XCTAssertTrue(GGUFError.invalidValueType(13, offset: 5, key: "k").description.contains("offset 5"))
        XCTAssertTrue(GGUFError.countTooLarge(count: 9, offset: 10, what: "array").description.contains("offset 10"))
    }

    func testMissingFileThroughGGUFFile() {
        XCTAssertThrowsError(try GGUFFile(path: "/nonexistent/flint/model.gguf")) { e in
            guard case .io = e as? GGUFError else { return XCTFail("\(e)") }
        }
    }
}

import XCTest
import Foundation
import FlintLoading
import FlintTensor

final class GGUFParsingTests: XCTestCase {
    /// One key per scalar type, with boundary values.
    private func addScalars(_ w: inout GGUFTestWriter) {
        w.add("t.u8", .u8(0xFF))
        w.add("t.i8", .i8(-128))
        w.add("t.u16", .u16(0xFFFF))
        w.add("t.i16", .i16(-32768))
        w.add("t.u32", .u32(0xFFFF_FFFF))
        w.add("t.i32", .i32(Int32.min))
        w.add("t.f32", .f32(-1.5))
        w.add("t.bool.true", .bool(true))
        w.add("t.bool.false", .bool(false))
        w.add("t.string", .string("héllo, wörld ✓ 🙂"))
        w.add("t.string.empty", .string(""))
        w.add("t.u64", .u64(UInt64.max))
        w.add("t.i64", .i64(Int64.min))
        w.add("t.f64", .f64(3.141592653589793))
    }

    private func checkScalars(_ h: GGUFHeader, file: StaticString = #filePath, line: UInt = #line) {
        let m = h.metadata
        XCTAssertEqual(m["t.u8"], .uint(255), file: file, line: line)
        XCTAssertEqual(m["t.i8"], .int(-128), file: file, line: line)
        XCTAssertEqual(m["t.u16"], .uint(65535), file: file, line: line)
        XCTAssertEqual(m["t.i16"], .int(-32768), file: file, line: line)
        XCTAssertEqual(m["t.u32"], .uint(0xFFFF_FFFF), file: file, line: line)
        XCTAssertEqual(m["t.i32"], .int(Int64(Int32.min)), file: file, line: line)
        XCTAssertEqual(m["t.f32"], .float(-1.5), file: file, line: line)
        XCTAssertEqual(m["t.bool.true"], .bool(true), file: file, line: line)
        XCTAssertEqual(m["t.bool.false"], .bool(false), file: file, line: line)
        XCTAssertEqual(m["t.string"], .string("héllo, wörld ✓ 🙂"), file: file, line: line)
        XCTAssertEqual(m["t.string.empty"], .string(""), file: file, line: line)
        XCTAssertEqual(m["t.u64"], .uint(UInt64.max), file: file, line: line)
        XCTAssertEqual(m["t.i64"], .int(Int64.min), file: file, line: line)
        XCTAssertEqual(m["t.f64"], .float(3.141592653589793), file: file, line: line)
    }

    func testScalarValuesOfEveryTypeV2AndV3() throws {
        for version: UInt32 in [2, 3] {
            var w = GGUFTestWriter(version: version)
            addScalars(&w)
            let img = w.build()
            let h = try parseGGUF(img.bytes)
            XCTAssertEqual(h.version, version)
            XCTAssertEqual(h.metadata.count, 14)
            XCTAssertEqual(h.keys, w.kvs.map { String(decoding: $0.key, as: UTF8.self) })
            XCTAssertEqual(h.tensors.count, 0)
            XCTAssertEqual(h.alignment, 32)
            XCTAssertEqual(h.dataOffset, img.dataOffset)
            XCTAssertEqual(h.dataOffset % 32, 0)
            checkScalars(h)
        }
    }

    func testScalarAccessors() throws {
        var w = GGUFTestWriter()
        addScalars(&w)
        let h = try parseGGUF(w.build().bytes)
        let m = h.metadata
        XCTAssertEqual(m["t.u8"]?.intValue, 255)
        XCTAssertEqual(m["t.i64"]?.intValue, Int(Int64.min))
        XCTAssertNil(m["t.u64"]?.intValue, "u64 max does not fit Int")
        XCTAssertEqual(m["t.u64"]?.doubleValue, Double(UInt64.max))
        XCTAssertEqual(m["t.f32"]?.doubleValue, -1.5)
        XCTAssertEqual(m["t.bool.true"]?.boolValue, true)
        XCTAssertNil(m["t.u8"]?.boolValue)
        XCTAssertEqual(m["t.string"]?.stringValue, "héllo, wörld ✓ 🙂")
        XCTAssertNil(m["t.f64"]?.stringValue)
    }

    func testArraysOfEachElementType() throws {
        for version: UInt32 in [2, 3] {
            var w = GGUFTestWriter(version: version)
            w.add("a.u8", .array(elementType: 0, [.u8(0), .u8(1), .u8(255)]))
            w.add("a.i8", .array(elementType: 1, [.i8(-128), .i8(0), .i8(127)]))
            w.add("a.u16", .array(elementType: 2, [.u16(0), .u16(65535)]))
            w.add("a.i16", .array(elementType: 3, [.i16(-32768), .i16(32767)]))
            w.add("a.u32", .array(elementType: 4, [.u32(0), .u32(0xFFFF_FFFF)]))
            w.add("a.i32", .array(elementType: 5, [.i32(Int32.min), .i32(-1), .i32(Int32.max)]))
            w.add("a.f32", .array(elementType: 6, [.f32(0.5), .f32(-2), .f32(.infinity)]))
            w.add("a.bool", .array(elementType: 7, [.bool(true), .bool(false), .bool(true)]))
            w.add("a.string", .strings(["<s>", "", "▁the", "日本"]))
            w.add("a.u64", .array(elementType: 10, [.u64(0), .u64(UInt64.max)]))
            w.add("a.i64", .array(elementType: 11, [.i64(Int64.min), .i64(Int64.max)]))
            w.add("a.f64", .array(elementType: 12, [.f64(1e300), .f64(-0.25)]))
            let h = try parseGGUF(w.build().bytes)
            let m = h.metadata
            XCTAssertEqual(m["a.u8"], .ints([0, 1, 255]))
            XCTAssertEqual(m["a.i8"], .ints([-128, 0, 127]))
            XCTAssertEqual(m["a.u16"], .ints([0, 65535]))
            XCTAssertEqual(m["a.i16"], .ints([-32768, 32767]))
            XCTAssertEqual(m["a.u32"], .ints([0, 0xFFFF_FFFF]))
            XCTAssertEqual(m["a.i32"], .ints([Int64(Int32.min), -1, Int64(Int32.max)]))
            XCTAssertEqual(m["a.f32"], .floats([0.5, -2, .infinity]))
            XCTAssertEqual(m["a.bool"], .array([.bool(true), .bool(false), .bool(true)]))
            XCTAssertEqual(m["a.string"], .strings(["<s>", "", "▁the", "日本"]))
            XCTAssertEqual(m["a.u64"], .array([.uint(0), .uint(UInt64.max)]))
            XCTAssertEqual(m["a.i64"], .ints([Int64.min, Int64.max]))
            XCTAssertEqual(m["a.f64"], .array([.float(1e300), .float(-0.25)]))

            XCTAssertEqual(m["a.string"]?.stringArray, ["<s>", "", "▁the", "日本"])
            XCTAssertEqual(m["a.f32"]?.floatArray, [0.5, -2, .infinity])
            XCTAssertEqual(m["a.i32"]?.floatArray, [Float(Int32.min), -1, Float(Int32.max)])
            XCTAssertEqual(m["a.i8"]?.intArray, [-128, 0, 127])
            XCTAssertNil(m["a.string"]?.intArray)
            XCTAssertEqual(h.keys.count, 12)
        }
    }

    func testEmptyArrays() throws {
        var w = GGUFTestWriter()
        for t: UInt32 in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] {
            w.add("empty.\(t)", .array(elementType: t, []))
        }
        let h = try parseGGUF(w.build().bytes)
        XCTAssertEqual(h.metadata.count, 13)
        XCTAssertEqual(h.metadata["empty.8"], .strings([]))
        XCTAssertEqual(h.metadata["empty.6"], .floats([]))
        XCTAssertEqual(h.metadata["empty.0"], .ints([]))
        XCTAssertEqual(h.metadata["empty.9"], .array([]))
        XCTAssertEqual(h.metadata["empty.9"]?.stringArray, [])
        XCTAssertEqual(h.metadata["empty.10"]?.intArray, [])
    }

    func testNestedArrays() throws {
        var w = GGUFTestWriter()
        w.add("nested.strings", .array(elementType: 9, [
            .strings(["a", "bc"]), .strings([]), .strings(["déf"]),
        ]))
        w.add("nested.ints", .array(elementType: 9, [.i32s([1, -2, 3]), .i32s([Int32.max])]))
        w.add("nested.mixed", .array(elementType: 9, [
            .array(elementType: 9, [.strings(["x"]), .array(elementType: 0, [.u8(7)])]),
            .array(elementType: 12, [.f64(2.5)]),
        ]))
        // Nesting up to the limit (8 array levels) is accepted.
        var deep: GGUFTestValue = .i32s([42])
        for _ in 0..<7 { deep = .array(elementType: 9, [deep]) }
        w.add("nested.deep8", deep)
        w.add("after", .u32(99))
        let h = try parseGGUF(w.build().bytes)
        let m = h.metadata
        XCTAssertEqual(m["nested.strings"], .array([.strings(["a", "bc"]), .strings([]), .strings(["déf"])]))
        XCTAssertEqual(m["nested.ints"], .array([.ints([1, -2, 3]), .ints([Int64(Int32.max)])]))
        XCTAssertEqual(m["nested.mixed"], .array([
            .array([.strings(["x"]), .ints([7])]),
            .array([.float(2.5)]),
        ]))
        var expectedDeep: GGUFValue = .ints([42])
        for _ in 0..<7 { expectedDeep = .array([expectedDeep]) }
        XCTAssertEqual(m["nested.deep8"], expectedDeep)
        XCTAssertEqual(m["after"], .uint(99), "parsing continues correctly after nested arrays")
    }

    func testTensorsDefaultAlignment() throws {
        for version: UInt32 in [2, 3] {
            var w = GGUFTestWriter(version: version)
            w.add("general.architecture", .string("llama"))
            w.addTensor("a.f32", [7, 3], .f32)            // 84 bytes
            w.addTensor("b.f16", [5], .f16)               // 10 bytes
            w.addTensor("c.q8_0", [64, 2, 3], .q8_0)      // 2*3*2 blocks * 34
            w.addTensor("d.q4_K", [256, 2], .q4_K)        // 2 * 144
            w.addTensor("e.q6_K", [512, 1, 1, 2], .q6_K)  // 4 * 210
            w.addTensor("f.q4_0", [32], .q4_0)
            w.addTensor("g.bf16", [3, 1], .bf16)
            let img = w.build()
            let h = try parseGGUF(img.bytes)
            XCTAssertEqual(h.version, version)
            XCTAssertEqual(h.alignment, 32)
            XCTAssertEqual(h.dataOffset, img.dataOffset)
            XCTAssertEqual(h.dataOffset % 32, 0)
            XCTAssertGreaterThanOrEqual(h.dataOffset, img.headerEnd)
            XCTAssertLessThan(h.dataOffset - img.headerEnd, 32)

            let expected: [(String, [Int], DType, Int)] = [
                ("a.f32", [7, 3], .f32, 84),
                ("b.f16", [5], .f16, 10),
                ("c.q8_0", [64, 2, 3], .q8_0, 12 * 34),
                ("d.q4_K", [256, 2], .q4_K, 2 * 144),
                ("e.q6_K", [512, 1, 1, 2], .q6_K, 4 * 210),
                ("f.q4_0", [32], .q4_0, 18),
                ("g.bf16", [3, 1], .bf16, 6),
            ]
            XCTAssertEqual(h.tensors.count, expected.count)
            for (i, (name, shape, type, size)) in expected.enumerated() {
                let t = h.tensors[i]
                XCTAssertEqual(t.name, name)
                XCTAssertEqual(t.shape, shape)
                XCTAssertEqual(t.type, type)
                XCTAssertEqual(t.byteCount, size)
                XCTAssertEqual(t.byteCount, img.tensorSizes[i])
                XCTAssertEqual(t.fileOffset, h.dataOffset + Int(img.tensorOffsets[i]))
                XCTAssertEqual((t.fileOffset - h.dataOffset) % 32, 0)
                XCTAssertEqual(h.tensorIndex[name], i)
                XCTAssertEqual(t.elementCount, shape.reduce(1, *))
                XCTAssertEqual(t.rowLength, shape[0])
                // The tensor's bytes are the fill pattern the writer used for it.
                XCTAssertEqual(img.bytes[t.fileOffset], UInt8(i + 1))
                XCTAssertEqual(img.bytes[t.fileOffset + t.byteCount - 1], UInt8(i + 1))
            }
            // Offsets are increasing and non-overlapping.
            for i in 1..<h.tensors.count {
                XCTAssertGreaterThanOrEqual(h.tensors[i].fileOffset, h.tensors[i - 1].fileOffset + h.tensors[i - 1].byteCount)
            }
            XCTAssertEqual(h.tensors.last.map { $0.fileOffset + $0.byteCount }, img.bytes.count)
        }
    }

    func testCustomAlignment() throws {
        for (alignment, type) in [(64, GGUFTestValue.u32(64)), (1, .u64(1)), (256, .i32(256)), (65536, .u32(65536))] {
            var w = GGUFTestWriter(alignment: alignment)
            w.add("general.alignment", type)
            w.add("padding.string", .string("xyz"))  // make the header length odd
            w.addTensor("x", [3], .f32)
            w.addTensor("y", [32, 2], .q8_0)
            w.addTensor("z", [1], .f16)
            let img = w.build()
            let h = try parseGGUF(img.bytes)
            XCTAssertEqual(h.alignment, alignment)
            XCTAssertEqual(h.dataOffset, img.dataOffset)
            XCTAssertEqual(h.dataOffset % alignment, 0)
            XCTAssertGreaterThanOrEqual(h.dataOffset, img.headerEnd)
            XCTAssertLessThan(h.dataOffset - img.headerEnd, alignment)
            for (i, t) in h.tensors.enumerated() {
                XCTAssertEqual(t.fileOffset, h.dataOffset + Int(img.tensorOffsets[i]))
                XCTAssertEqual((t.fileOffset - h.dataOffset) % alignment, 0)
                XCTAssertEqual(img.bytes[t.fileOffset], UInt8(i + 1))
            }
            XCTAssertEqual(h.tensors.map(\.byteCount), [12, 68, 2])
        }
    }

    func testAlignment64HeaderAlreadyAligned() throws {
        // A header ending exactly on an alignment boundary gets no padding.
        var found = false
        for pad in 0..<64 {
            var w = GGUFTestWriter(alignment: 64)
            w.add("general.alignment", .u32(64))
            w.add("p", .string(String(repeating: "p", count: pad)))
            let img = w.build()
            guard img.headerEnd % 64 == 0 else { continue }
            found = true
            let h = try parseGGUF(img.bytes)
            XCTAssertEqual(h.dataOffset, img.headerEnd)
            XCTAssertEqual(h.dataOffset % 64, 0)
        }
        XCTAssertTrue(found)
    }

    func testTensorAtEndOfFileAndExplicitOffsets() throws {
        var w = GGUFTestWriter()
        w.addTensor("late", [8], .f32, offset: 96)
        w.addTensor("early", [8], .f32, offset: 0)
        let img = w.build()
        let h = try parseGGUF(img.bytes)
        XCTAssertEqual(h.tensors.map(\.name), ["late", "early"])
        XCTAssertEqual(h.tensors[0].fileOffset, h.dataOffset + 96)
        XCTAssertEqual(h.tensors[1].fileOffset, h.dataOffset)
        XCTAssertEqual(h.tensors[0].fileOffset + 32, img.bytes.count, "tensor ends exactly at end of file")
    }

    func testHeaderOnlyFileWithoutDataSection() throws {
        // No tensors and no padding after the header: still valid.
        var w = GGUFTestWriter()
        w.add("k", .u8(1))
        let img = w.build()
        XCTAssertEqual(img.headerEnd, 38)
        let h = try parseGGUF(Array(img.bytes.prefix(img.headerEnd)))
        XCTAssertEqual(h.metadata["k"], .uint(1))
        XCTAssertEqual(h.tensors.count, 0)
        XCTAssertEqual(h.dataOffset, 64, "data offset is rounded up even past the end of the file")
    }

    func testFileThroughMmap() throws {
        var w = GGUFTestWriter(alignment: 64)
        w.add("general.alignment", .u32(64))
        w.add("general.architecture", .string("llama"))
        w.add("llama.block_count", .u32(2))
        w.add("llama.rope.freq_base", .f32(10000))
        w.add("flag", .bool(true))
        w.addTensor("t0", [32, 4], .q8_0)
        w.addTensor("t1", [16], .f32)
        let img = w.build()
        let url = try writeTempFile(img.bytes, name: "mmap")
        defer { try? FileManager.default.removeItem(at: url) }
        let f = try GGUFFile(path: url.path)
        XCTAssertEqual(f.architecture, "llama")
        XCTAssertEqual(try f.string("general.architecture"), "llama")
        XCTAssertEqual(try f.int("llama.block_count"), 2)
        XCTAssertEqual(try f.optionalFloat("llama.rope.freq_base"), 10000)
        XCTAssertEqual(try f.optionalBool("flag"), true)
        XCTAssertNil(try f.optionalInt("missing"))
        XCTAssertThrowsError(try f.int("general.architecture")) {
            XCTAssertEqual($0 as? GGUFError, .wrongKeyType(key: "general.architecture", expected: "an integer"))
        }
        XCTAssertThrowsError(try f.string("nope")) { XCTAssertEqual($0 as? GGUFError, .missingKey("nope")) }
        XCTAssertEqual(f.header.dataOffset % 64, 0)
        for (i, name) in ["t0", "t1"].enumerated() {
            let info = try XCTUnwrap(f.tensorInfo(name))
            let p = f.data(of: info)
            XCTAssertEqual(f.mapping.base.distance(to: p), info.fileOffset)
            let bytes = UnsafeRawBufferPointer(start: p, count: info.byteCount)
            XCTAssertTrue(bytes.allSatisfy { $0 == UInt8(i + 1) })
        }
        XCTAssertNil(f.tensorInfo("t2"))
    }
}

/// Writes `bytes` to a temp file whose name is unique per process and `name`.
func writeTempFile(_ bytes: [UInt8], name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("flint-test-\(getpid())-\(name).gguf")
    try Data(bytes).write(to: url)
    return url
}

import Foundation
import FlintLoading
import FlintTestSupport
import XCTest

/// A safetensors image assembled by hand from a header string, so that every field can be wrong.
private func image(_ header: String, data: [UInt8] = [], headerLength: UInt64? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    var out: [UInt8] = []
    withUnsafeBytes(of: (headerLength ?? UInt64(h.count)).littleEndian) { out.append(contentsOf: $0) }
    return out + h + data
}

private func assertSafeTensorsError(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line,
                                    _ check: (SafeTensorsError) -> Bool = { _ in true }) {
    do {
        _ = try SafeTensorsFile(bytes: bytes)
        XCTFail("expected a SafeTensorsError", file: file, line: line)
    } catch let e as SafeTensorsError {
        XCTAssertTrue(check(e), "unexpected error: \(e)", file: file, line: line)
        XCTAssertFalse(e.description.isEmpty, file: file, line: line)
    } catch {
        XCTFail("expected a SafeTensorsError, got \(error)", file: file, line: line)
    }
}

final class SafeTensorsTests: XCTestCase {
    private func sampleWriter() throws -> (SafeTensorsWriter, [String: [Float]]) {
        var rng = SplitMix64(seed: 42)
        var w = SafeTensorsWriter()
        w.metadata = ["format": "pt", "note": "quote \" and backslash \\"]
        let a = randomFloats(12, &rng), b = randomFloats(5, &rng), c = randomFloats(6, &rng, scale: 100)
        try w.add("layer.a", shape: [3, 4], values: a)
        try w.add("b", shape: [5], values: b)
        try w.add("weird \"name\"/ü", shape: [2, 1, 3], values: c)
        try w.add("empty", shape: [0, 4], values: [])
        return (w, ["layer.a": a, "b": b, "weird \"name\"/ü": c, "empty": []])
    }

    func testRoundTripF32InMemoryAndOnDisk() throws {
        let (w, expected) = try sampleWriter()
        let bytes = try w.serialize()
        let headerLength = Int(bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
        XCTAssertEqual(headerLength % 8, 0, "header is padded to 8 bytes")

        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("t.safetensors").path
        try w.write(to: path)

        for f in [try SafeTensorsFile(bytes: bytes), try SafeTensorsFile(path: path)] {
            XCTAssertEqual(Set(f.tensorNames), Set(expected.keys))
            XCTAssertEqual(f.metadata, w.metadata)
            XCTAssertEqual(f.info("layer.a")?.shape, [3, 4])
            XCTAssertEqual(f.info("layer.a")?.dtype, .f32)
            XCTAssertEqual(f.info("weird \"name\"/ü")?.shape, [2, 1, 3])
            XCTAssertEqual(f.dataRegionOffset, 8 + headerLength)
            for (name, values) in expected {
                XCTAssertEqual(try f.floats(name), values, name)
            }
        }
    }

    func testF16AndBF16Conversion() throws {
        var rng = SplitMix64(seed: 3)
        let values = randomFloats(257, &rng, scale: 70_000) + [0, -0, 1e-7, -3e-6, 65_504, 1e9, .infinity, -.infinity]
        // bf16: multiples of 1/64 below 4 have at most 8 significant bits, so they are exact;
        // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7 and must round to even (1),
        // 1 + 3·2^-9 lies above halfway and must round up.
        let bfValues: [Float] = (-64...64).map { Float($0) / 16 } + [1 + 0x1p-8, 1 + 3 * 0x1p-9]
        let bfExpected: [Float] = (-64...64).map { Float($0) / 16 } + [1, 1 + 0x1p-7]
        var w = SafeTensorsWriter()
        try w.add("h", shape: [values.count], values: values, as: .f16)
        try w.add("bf", shape: [bfValues.count], values: bfValues, as: .bf16)
        let f = try SafeTensorsFile(bytes: w.serialize())
        XCTAssertEqual(f.info("h")?.dtype, .f16)
        XCTAssertEqual(f.info("bf")?.dtype, .bf16)
        let h = try f.floats("h")
        for (i, v) in values.enumerated() {
            let expected = Float(Float16(v))
            XCTAssertEqual(h[i].bitPattern, expected.bitPattern, "f16 of \(v)")
        }
        XCTAssertEqual(try f.floats("bf"), bfExpected)
    }

    func testOtherDTypesOpenButAreNotFloats() throws {
        let f = try SafeTensorsFile(bytes: image(#"{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 1, count: 16)))
        XCTAssertEqual(f.info("ids")?.dtype, .i64)
        XCTAssertThrowsError(try f.floats("ids")) { XCTAssertEqual($0 as? SafeTensorsError, .unsupportedDType(tensor: "ids", dtype: "I64")) }
        XCTAssertThrowsError(try f.floats("nope")) { XCTAssertEqual($0 as? SafeTensorsError, .missingTensor("nope")) }
    }

    func testTruncatedAtEveryCutPoint() throws {
        let bytes = try sampleWriter().0.serialize()
        for cut in 0..<bytes.count {
            assertSafeTensorsError(Array(bytes[..<cut]))
        }
        XCTAssertNoThrow(try SafeTensorsFile(bytes: bytes))
    }

    func testHeaderLength() {
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        assertSafeTensorsError(image(header, data: [0, 0, 0, 0], headerLength: UInt64(header.utf8.count) + 5)) {
            if case .headerTooLarge = $0 { return true } else { return false }
        }
        assertSafeTensorsError(image(header, headerLength: .max)) {
            if case .headerTooLarge = $0 { return true } else { return false }
        }
        assertSafeTensorsError(image("", headerLength: 200_000_000)) {
            if case .headerTooLarge = $0 { return true } else { return false }
        }
        assertSafeTensorsError([1, 2, 3]) { $0 == .fileTooSmall(size: 3) }
        // A header shorter than its JSON text cuts the JSON.
        assertSafeTensorsError(image(header, data: [0, 0, 0, 0], headerLength: 10)) {
            if case .headerNotJSON = $0 { return true } else { return false }
        }
    }

    func testHeaderNotJSONOrNotObject() {
        assertSafeTensorsError(image("{not json")) { if case .headerNotJSON = $0 { return true } else { return false } }
        assertSafeTensorsError(image("")) { if case .headerNotJSON = $0 { return true } else { return false } }
        assertSafeTensorsError(image("[1, 2]")) { $0 == .headerNotObject }
        assertSafeTensorsError(image("\"text\"")) { $0 == .headerNotObject }
        var bad = image(#"{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}"#)
        bad[10] = 0xFF
        assertSafeTensorsError(bad) { $0 == .headerNotUTF8 }
        assertSafeTensorsError(image(#"{"__metadata__":{"k":1}}"#)) { if case .badMetadata = $0 { return true } else { return false } }
    }

    /// Deep nesting must be refused by the parser, not recursed into until the stack runs out.
    func testDeeplyNestedHeader() {
        let depth = 100_000
        let nested = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        assertSafeTensorsError(image(#"{"t":{"dtype":"F32","shape":\#(nested),"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
        assertSafeTensorsError(image(nested))
    }

    func testBadEntries() {
        let cases: [(String, String)] = [
            (#"{"t":5}"#, "not an object"),
            (#"{"t":{"shape":[1],"data_offsets":[0,4]}}"#, "'dtype' is missing"),
            (#"{"t":{"dtype":3,"shape":[1],"data_offsets":[0,4]}}"#, "'dtype' is not"),
            (#"{"t":{"dtype":"F32","data_offsets":[0,4]}}"#, "'shape' is missing"),
            (#"{"t":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}"#, "'shape' is not"),
            (#"{"t":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, "'shape' is not"),
            (#"{"t":{"dtype":"F32","shape":[1e30],"data_offsets":[0,4]}}"#, "'shape' is not"),
            (#"{"t":{"dtype":"F32","shape":[1]}}"#, "'data_offsets' is missing"),
            (#"{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#, "3 values"),
        ]
        for (header, fragment) in cases {
            assertSafeTensorsError(image(header, data: [0, 0, 0, 0, 0, 0, 0, 0])) {
                guard case .badEntry(let t, _) = $0, t == "t" else { return false }
                return $0.description.contains(fragment)
            }
        }
    }

    func testUnknownDType() {
        assertSafeTensorsError(image(#"{"t":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])) {
            $0 == .unknownDType(tensor: "t", dtype: "Q4")
        }
    }

    func testShapes() {
        let data = [UInt8](repeating: 0, count: 16)
        assertSafeTensorsError(image(#"{"t":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,16]}}"#, data: data)) {
            if case .badShape(let t, _, let p) = $0 { return t == "t" && p.contains("negative") } else { return false }
        }
        for shape in ["[\(Int.max), 2]", "[4611686018427387904, 4]", "[\(Int.max / 2)]", "[65536, 65536, 65536, 65536]"] {
            assertSafeTensorsError(image(#"{"t":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,16]}}"#, data: data)) {
                if case .badShape(let t, _, let p) = $0 { return t == "t" && p.contains("overflows") } else { return false }
            }
        }
        let deep = "[" + Array(repeating: "1", count: 40).joined(separator: ",") + "]"
        assertSafeTensorsError(image(#"{"t":{"dtype":"F32","shape":\#(deep),"data_offsets":[0,4]}}"#, data: data)) {
            if case .badShape = $0 { return true } else { return false }
        }
    }

    func testSizeMismatch() {
        assertSafeTensorsError(image(#"{"t":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}}"#, data: [UInt8](repeating: 0, count: 16))) {
            $0 == .sizeMismatch(tensor: "t", dtype: "F32", shape: [4], expectedBytes: 16, declaredBytes: 12)
        }
        assertSafeTensorsError(image(#"{"t":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 16))) {
            $0 == .sizeMismatch(tensor: "t", dtype: "BF16", shape: [2, 2], expectedBytes: 8, declaredBytes: 16)
        }
    }

    func testOffsetsOutOfRange() {
        let data = [UInt8](repeating: 0, count: 16)
        for offsets in ["[0,1000]", "[-4,0]", "[8,4]", "[16,20]", "[0,\(Int.max)]"] {
            assertSafeTensorsError(image(#"{"t":{"dtype":"F32","shape":[1],"data_offsets":\#(offsets)}}"#, data: data)) {
                if case .outOfBounds(let t, _, _, let size) = $0 { return t == "t" && size == 16 } else { return false }
            }
        }
    }

    func testOverlappingTensors() {
        let data = [UInt8](repeating: 0, count: 24)
        assertSafeTensorsError(image(#"{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"y":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#, data: data)) {
            $0 == .overlap(first: "x", second: "y")
        }
        assertSafeTensorsError(image(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}"#, data: data)) {
            if case .overlap = $0 { return true } else { return false }
        }
        // Empty tensors may share an offset with anything.
        XCTAssertNoThrow(try SafeTensorsFile(bytes: image(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}"#, data: data)))
    }

    func testFileErrors() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let empty = dir.appendingPathComponent("empty.safetensors").path
        XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: Data()))
        XCTAssertThrowsError(try SafeTensorsFile(path: empty)) { XCTAssertEqual($0 as? SafeTensorsError, .fileTooSmall(size: 0)) }
        XCTAssertThrowsError(try SafeTensorsFile(path: dir.appendingPathComponent("missing").path)) {
            guard case .io = $0 as? SafeTensorsError else { return XCTFail("\($0)") }
        }
    }

    /// Random byte corruption of a valid file: every outcome is a parsed file whose
    /// tensors can all be read, or a SafeTensorsError.
    func testRandomCorruptionNeverCrashes() throws {
        let bytes = try sampleWriter().0.serialize()
        var rng = SplitMix64(seed: 99)
        let structural = [UInt8](#"{}[],:"0123456789-e"#.utf8)
        var failures = 0
        for _ in 0..<1500 {
            var b = bytes
            for _ in 0..<rng.inRange(1..<4) {
                // Mostly in the header, where the structure is.
                let i = rng.below(4) == 0 ? rng.below(b.count) : rng.below(min(b.count, 300))
                b[i] = rng.below(3) == 0 ? UInt8(truncatingIfNeeded: rng.next()) : structural[rng.below(structural.count)]
            }
            do {
                let f = try SafeTensorsFile(bytes: b)
                for t in f.tensors where t.dtype.isReadableAsFloat {
                    XCTAssertEqual(try f.floats(t.name).count, t.shape.reduce(1, *))
                }
            } catch is SafeTensorsError {
                failures += 1
            }
        }
        XCTAssertGreaterThan(failures, 100)
    }
}

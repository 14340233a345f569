import XCTest
import Foundation
import FlintLoading
import FlintTensor
import FlintTestSupport

final class GGUFRealFileTests: XCTestCase {
    func testSmolLM2Header() throws {
        let path = try TestModels.path("smollm2-135m-instruct")
        let f = try GGUFFile(path: path)
        XCTAssertEqual(f.architecture, "llama")
        XCTAssertEqual(try f.string("general.architecture"), "llama")
        XCTAssertEqual(f.header.version, 3)
        XCTAssertEqual(f.tensors.count, 272)
        XCTAssertEqual(f.header.tensorIndex.count, 272)
        XCTAssertEqual(f.header.keys.count, f.metadata.count)

        let emb = try XCTUnwrap(f.tensorInfo("token_embd.weight"))
        XCTAssertEqual(emb.shape, [576, 49152])
        XCTAssertEqual(emb.type, .q8_0)
        XCTAssertEqual(emb.byteCount, 49152 * (576 / 32) * 34)
        XCTAssertEqual(emb.rowLength, 576)
        XCTAssertEqual(emb.rowCount, 49152)

        let tokens = try XCTUnwrap(f.metadata["tokenizer.ggml.tokens"]?.stringArray)
        XCTAssertEqual(tokens.count, 49152)
        XCTAssertEqual(try f.int("llama.block_count"), 30)
        XCTAssertEqual(try f.int("llama.embedding_length"), 576)

        // Data pointers lie inside the mapping, after the header, aligned, non-overlapping.
        let base = f.mapping.base
        let end = base + f.mapping.size
        XCTAssertEqual(f.header.dataOffset % f.header.alignment, 0)
        let p = f.data(of: emb)
        XCTAssertGreaterThanOrEqual(p, base + f.header.dataOffset)
        XCTAssertLessThanOrEqual(p + emb.byteCount, end)
        var ranges: [(Int, Int)] = []
        for t in f.tensors {
            let q = f.data(of: t)
            XCTAssertGreaterThanOrEqual(q, base + f.header.dataOffset, t.name)
            XCTAssertLessThanOrEqual(q + t.byteCount, end, t.name)
            XCTAssertEqual((t.fileOffset - f.header.dataOffset) % f.header.alignment, 0, t.name)
            XCTAssertEqual(t.byteCount, t.elementCount / t.type.blockElements * t.type.blockBytes, t.name)
            ranges.append((t.fileOffset, t.fileOffset + t.byteCount))
        }
        ranges.sort { $0.0 < $1.0 }
        for i in 1..<ranges.count { XCTAssertLessThanOrEqual(ranges[i - 1].1, ranges[i].0) }
        // Reading through the pointer works (touches the first and last byte of the tensor).
        _ = p.load(as: UInt8.self) &+ (p + emb.byteCount - 1).load(as: UInt8.self)
    }
}

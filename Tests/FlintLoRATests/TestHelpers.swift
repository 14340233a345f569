import Foundation
import FlintLoading
import FlintTestSupport
import XCTest

/// A fresh directory under the system temporary directory, removed by the caller.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("flint-lora-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func randomFloats(_ n: Int, _ rng: inout SplitMix64, scale: Float = 1) -> [Float] {
    (0..<n).map { _ in (Float(rng.next() >> 40) / Float(1 << 24) * 2 - 1) * scale }
}

/// The smollm2 configuration the adapters in these tests are built for.
func smolConfig() throws -> (GGUFFile, ModelConfig) {
    let gguf = try GGUFFile(path: TestModels.path("smollm2-135m-instruct"))
    return (gguf, try ModelConfig(gguf: gguf))
}

/// Asserts that `body` throws a LoRAError satisfying `check`, and that its message is not empty.
func assertLoRAError<T>(_ body: @autoclosure () throws -> T, file: StaticString = #filePath, line: UInt = #line,
                        _ check: (LoRAError) -> Bool) {
    do {
        _ = try body()
        XCTFail("expected a LoRAError", file: file, line: line)
    } catch let e as LoRAError {
        XCTAssertTrue(check(e), "unexpected error: \(e)", file: file, line: line)
        XCTAssertFalse(e.description.isEmpty, file: file, line: line)
    } catch {
        XCTFail("expected a LoRAError, got \(type(of: error)): \(error)", file: file, line: line)
    }
}

/// Builds a minimal GGUF v3 image with real tensor data (f32 or f16), laid out as
/// llama.cpp writes it: 32-byte alignment of the data section and of every tensor.
struct LoRAGGUFBuilder {
    enum Value {
        case string(String), f32(Float), u32(UInt32)
    }
    struct Tensor {
        var name: String
        /// ggml order: dims[0] is the contiguous row length.
        var dims: [Int]
        var values: [Float]
        var f16: Bool
    }

    var kvs: [(String, Value)] = []
    var tensors: [Tensor] = []

    mutating func add(_ key: String, _ v: Value) { kvs.append((key, v)) }
    mutating func addTensor(_ name: String, dims: [Int], values: [Float], f16: Bool = false) {
        tensors.append(Tensor(name: name, dims: dims, values: values, f16: f16))
    }

    func build() -> [UInt8] {
        var out: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); out.append(contentsOf: Array(s.utf8)) }
        u32(0x4655_4747)
        u32(3)
        u64(UInt64(tensors.count))
        u64(UInt64(kvs.count))
        for (k, v) in kvs {
            str(k)
            switch v {
            case .string(let s): u32(8); str(s)
            case .f32(let f): u32(6); u32(f.bitPattern)
            case .u32(let i): u32(4); u32(i)
            }
        }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offset = (offset + 31) / 32 * 32
            offsets.append(offset)
            offset += t.values.count * (t.f16 ? 2 : 4)
        }
        for (i, t) in tensors.enumerated() {
            str(t.name)
            u32(UInt32(t.dims.count))
            for d in t.dims { u64(UInt64(d)) }
            u32(t.f16 ? 1 : 0)
            u64(UInt64(offsets[i]))
        }
        while out.count % 32 != 0 { out.append(0) }
        let dataStart = out.count
        for (i, t) in tensors.enumerated() {
            while out.count < dataStart + offsets[i] { out.append(0) }
            for v in t.values {
                if t.f16 {
                    withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { out.append(contentsOf: $0) }
                } else {
                    withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) }
                }
            }
        }
        return out
    }
}

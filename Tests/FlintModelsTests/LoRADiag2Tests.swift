import FlintLoading
import FlintModels
import FlintTensor
import FlintTestSupport
import XCTest

final class LoRADiag2Tests: XCTestCase {
    func testDelta() throws {
        let gguf = try GGUFFile(path: try TestModels.path("smollm2-135m-instruct"))
        let config = try ModelConfig(gguf: gguf)
        let adapter = try LoRAForwardTests.randomAdapter(gguf, seed: 42)
        let ctx = ForwardContext(threads: 2)
        for target in LoRATarget.allCases {
            let w = adapter.weights(layer: 3, target: target)!
            let n = w.inputSize, m = w.outputSize, rows = 3
            var rng = SystemRandomNumberGenerator()
            let x = (0..<(rows * n)).map { _ in Float.random(in: -1...1, using: &rng) }
            var exact = [Double](repeating: 0, count: rows * m)
            for r in 0..<rows {
                var u = [Double](repeating: 0, count: w.rank)
                for j in 0..<w.rank { for i in 0..<n { u[j] += Double(w.a[j * n + i]) * Double(x[r * n + i]) } }
                for o in 0..<m { for j in 0..<w.rank { exact[r * m + o] += Double(adapter.scale) * Double(w.b[o * w.rank + j]) * u[j] } }
            }
            let zeros = FloatStorageBox(count: m * n)
            let base = Linear(weight: WeightMatrix(type: .f32, rows: m, columns: n, data: UnsafeRawPointer(zeros.p), owner: zeros))
            let lin = LoRALinear(base: base, layer: 3, target: target)
            for format in [DType.f32, .f16, .q8_0] {
                let aw = try LoRAAdapterWeights(adapter: adapter, config: config, format: format)
                var batch = ForwardBatch()
                batch.adapters = LoRATable([nil, aw])
                batch.append(tokens: [1, 2], startPosition: 0, blockTable: [0], blockSize: 16, loraSlot: 1)
                batch.append(tokens: [3], startPosition: 0, blockTable: [1], blockSize: 16, loraSlot: 1)
                let plan = LoRAPlan(batch: batch, context: ctx)
                var out = [Float](repeating: 0, count: rows * m)
                x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { lin(xp.baseAddress!, rows: rows, out: $0.baseAddress!, context: ctx, lora: plan) } }
                var err = 0.0, mag = 0.0
                for i in 0..<(rows * m) { err = max(err, abs(Double(out[i]) - exact[i])); mag = max(mag, abs(exact[i])) }
                print("\(target) \(format): max err \(err) of max \(mag)")
            }
        }
    }
}

final class FloatStorageBox: @unchecked Sendable {
    let p: UnsafeMutablePointer<Float>
    init(count: Int) { p = .allocate(capacity: count); p.initialize(repeating: 0, count: count) }
    deinit { p.deallocate() }
}

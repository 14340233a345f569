import CFlintKernels
import FlintLoading
import FlintTensor

/// Which rows of a batch run with which adapter: consecutive sequences that share a LoRA
/// slot form one segment (so each adapter's A and B are read once for all its rows, the
/// segmented gather of Punica/S-LoRA), cut into pieces of at most `maxItemRows` rows that
/// the pool's threads share out. Rows of slot 0, or of a slot with no adapter, are not
/// in it. Built once per forward pass in the context's scratch memory.
public struct LoRAPlan {
    struct Item {
        var row: Int
        var count: Int
        var slot: Int32
    }

    /// Large enough that a prompt chunk reuses each A/B block over many rows, small
    /// enough that one long prompt still spreads over the threads.
    static let maxItemRows = 8

    let items: UnsafeMutablePointer<Item>
    let itemCount: Int
    let table: LoRATable

    public init(batch: ForwardBatch, context ctx: ForwardContext) {
        let table = batch.adapters
        var upper = 0
        if !table.adapters.isEmpty {
            for s in batch.sequences where s.loraSlot != 0 { upper += (s.count + Self.maxItemRows - 1) / Self.maxItemRows + 1 }
        }
        let items = ctx.buffer(.loraItems).reserve(bytes: max(1, upper) * MemoryLayout<Item>.stride)
            .bindMemory(to: Item.self, capacity: max(1, upper))
        var n = 0
        if upper > 0 {
            // Merge consecutive sequences of one slot into a run, then cut the run into items.
            var runStart = 0, runCount = 0, runSlot: Int32 = 0
            for i in 0...batch.sequences.count {
                var slot: Int32 = 0, start = 0, count = 0
                if i < batch.sequences.count {
                    let s = batch.sequences[i]
                    (start, count) = (s.start, s.count)
                    slot = table[s.loraSlot] == nil ? 0 : s.loraSlot
                }
                if runCount > 0 && (i == batch.sequences.count || slot != runSlot || start != runStart + runCount) {
                    var r = runStart
                    while r < runStart + runCount {
                        let c = min(Self.maxItemRows, runStart + runCount - r)
                        items[n] = Item(row: r, count: c, slot: runSlot)
                        n += 1
                        r += c
                    }
                    runCount = 0
                }
                if slot == 0 { continue }
                if runCount == 0 { (runStart, runSlot) = (start, slot) }
                runCount += count
            }
        }
        self.table = table
        self.items = items
        itemCount = n
    }

    /// No adapter rows: every LoRALinear is its base Linear.
    public var isEmpty: Bool { itemCount == 0 }
}

/// A projection with optional per-sequence low-rank updates:
/// y = W·x (+ bias) + s·B·(A·x), with A and B taken from the adapter of each row's LoRA
/// slot. Base weights are never modified; rows without an adapter skip the update.
///
/// Every row's update is computed from that row alone (activations quantized per row,
/// `flint_gemm` giving each (weight row, activation row) pair the same arithmetic for
/// any number of rows), so a row's result does not depend on which rows share its
/// batch or its adapter.
public struct LoRALinear: Sendable {
    public let base: Linear
    public let layer: Int
    public let target: LoRATarget
    private let targetIndex: Int

    public var inputSize: Int { base.inputSize }
    public var outputSize: Int { base.outputSize }

    public init(base: Linear, layer: Int, target: LoRATarget) {
        self.base = base
        self.layer = layer
        self.target = target
        targetIndex = LoRATarget.allCases.firstIndex(of: target)!
    }

    public func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>,
                               context ctx: ForwardContext, lora: LoRAPlan, sameInput: Bool = false) {
        base(x, rows: rows, out: out, context: ctx, sameInput: sameInput)
        if lora.isEmpty { return }
        let inputs = base.inputSize, outputs = base.outputSize
        let calls = ctx.buffer(.loraCalls).reserve(bytes: lora.itemCount * MemoryLayout<LoRACall>.stride)
            .bindMemory(to: LoRACall.self, capacity: lora.itemCount)
        var count = 0, inner = 1
        for i in 0..<lora.itemCount {
            let item = lora.items[i]
            guard let p = lora.table[item.slot]?.projection(layer: layer, targetIndex: targetIndex),
                  p.inputSize == inputs, p.outputSize == outputs else { continue }
            calls[count] = LoRACall(row: item.row, count: item.count, p: p)
            count += 1
            inner = max(inner, p.innerSize)
        }
        if count == 0 { return }
        let xqStride = inputs * 4, uqStride = inner * 4
        var job = LoRAJob(calls: calls, callCount: count, x: x, xStride: inputs, inputs: inputs,
                          out: out, outputs: outputs,
                          xq: ctx.buffer(.loraInputQuantized).reserve(bytes: rows * xqStride), xqStride: xqStride,
                          u: ctx.buffer(.loraInner).floats(rows * inner), uStride: inner,
                          uq: ctx.buffer(.loraInnerQuantized).reserve(bytes: rows * uqStride), uqStride: uqStride,
                          t: ctx.buffer(.loraExpanded).floats(rows * outputs))
        if count == 1 {
            LoRAJob.task(&job, 0, 1)
        } else {
            withUnsafeMutablePointer(to: &job) { ctx.pool.run(LoRAJob.task, UnsafeMutableRawPointer($0)) }
        }
    }
}

/// One item of a LoRALinear call: rows and the adapter matrices for this projection.
struct LoRACall {
    let row: Int
    let count: Int
    let p: LoRAAdapterWeights.Projection
}

/// Arguments of the low-rank update of one projection (see `ThreadPool.run(_:_:)`): the
/// items are shared out among the threads, each item doing shrink (u = A·x), expand
/// (sB·u, added to the output) for its own rows, so one pool dispatch covers every
/// adapter of the batch. Scratch rows are indexed by batch row, so items never share memory.
private struct LoRAJob {
    let calls: UnsafeMutablePointer<LoRACall>
    let callCount: Int
    let x: UnsafePointer<Float>
    let xStride: Int
    let inputs: Int
    let out: UnsafeMutablePointer<Float>
    let outputs: Int
    let xq: UnsafeMutableRawPointer
    let xqStride: Int
    let u: UnsafeMutablePointer<Float>
    let uStride: Int
    let uq: UnsafeMutableRawPointer
    let uqStride: Int
    let t: UnsafeMutablePointer<Float>

    static let task: PoolTask = { argument, index, total in
        let j = argument!.assumingMemoryBound(to: LoRAJob.self).pointee
        for c in ThreadPool.chunk(j.callCount, index, total) {
            let call = j.calls[c], p = call.p
            let rows = call.row..<(call.row + call.count)
            let xType = p.aType.vecDotType.rawValue, uType = p.bType.vecDotType.rawValue
            for r in rows {
                flint_quantize_row(xType, j.x + r * j.xStride, j.xq + r * j.xqStride, Int64(j.inputs))
            }
            flint_gemm(p.aType.rawValue, Int64(j.inputs), p.a, p.aStride, 0, Int64(p.rank),
                       j.xq + call.row * j.xqStride, j.xqStride, Int64(call.count), j.u + call.row * j.uStride, Int64(j.uStride))
            if p.transposedB {
                for r in rows {
                    flint_lora_expand_q8_0(p.b, p.bStride, Int64(p.rank), Int64(j.outputs), j.u + r * j.uStride, j.out + r * j.outputs)
                }
                continue
            }
            for r in rows {
                let u = j.u + r * j.uStride
                for i in p.rank..<p.innerSize { u[i] = 0 }
                flint_quantize_row(uType, u, j.uq + r * j.uqStride, Int64(p.innerSize))
            }
            let t = j.t + call.row * j.outputs
            flint_gemm(p.bType.rawValue, Int64(p.innerSize), p.b, p.bStride, 0, Int64(j.outputs),
                       j.uq + call.row * j.uqStride, j.uqStride, Int64(call.count), t, Int64(j.outputs))
            for r in 0..<call.count {
                let o = j.out + (call.row + r) * j.outputs, tr = t + r * j.outputs
                for i in 0..<j.outputs { o[i] += tr[i] }
            }
        }
    }
}

import FlintTensor

/// How one layer attends: over the whole context, or a sliding window of recent tokens.
public enum AttentionKind: Sendable, Equatable {
    case full
    case slidingWindow(Int)
}

/// The KV pool: for every layer, `blockCount * blockSize` slots of keys and values
/// stored as F16, block by block and within a block KV head by KV head (the layout of
/// flint_attention_paged / flint_kv_store). Blocks are handed out by the engine's block
/// manager; the cache itself is just memory addressed by slot.
public final class KVCache: @unchecked Sendable {
    public let blockSize: Int
    public let blockCount: Int
    public let layers: Int
    public let kvHeads: Int
    public let headDim: Int
    public let valueDim: Int
    let keys: [UnsafeMutablePointer<UInt16>]
    let values: [UnsafeMutablePointer<UInt16>]

    public static func bytesPerToken(config: ModelShape) -> Int {
        config.layers * config.kvHeads * (config.headDim + config.valueDim) * 2
    }

    public init(shape: ModelShape, blockSize: Int, blockCount: Int) {
        self.blockSize = blockSize
        self.blockCount = blockCount
        layers = shape.layers
        kvHeads = shape.kvHeads
        headDim = shape.headDim
        valueDim = shape.valueDim
        let slots = blockSize * blockCount
        keys = (0..<layers).map { _ in
            let p = UnsafeMutablePointer<UInt16>.allocate(capacity: slots * shape.kvHeads * shape.headDim)
            p.initialize(repeating: 0, count: slots * shape.kvHeads * shape.headDim)
            return p
        }
        values = (0..<layers).map { _ in
            let p = UnsafeMutablePointer<UInt16>.allocate(capacity: slots * shape.kvHeads * shape.valueDim)
            p.initialize(repeating: 0, count: slots * shape.kvHeads * shape.valueDim)
            return p
        }
    }

    deinit {
        for p in keys { p.deallocate() }
        for p in values { p.deallocate() }
    }

    public var totalBytes: Int { blockSize * blockCount * layers * kvHeads * (headDim + valueDim) * 2 }
}

/// The dimensions the KV cache needs from a model.
public struct ModelShape: Sendable {
    public var layers: Int
    public var kvHeads: Int
    public var headDim: Int
    public var valueDim: Int
}

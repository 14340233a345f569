import FlintTensor

/// Where one tensor lives in a GGUF file. `shape[0]` is the innermost (row) length,
/// as in GGML: a weight of shape [k, n] has n rows of k elements.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let type: DType
    /// Absolute byte offset of the tensor's data in the file.
    public let fileOffset: Int
    public let byteCount: Int

    public var elementCount: Int { shape.reduce(1, *) }
    public var rowLength: Int { shape[0] }
    public var rowCount: Int { elementCount / shape[0] }
}

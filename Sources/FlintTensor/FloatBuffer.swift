/// An owned, 64-byte-aligned scratch buffer that only grows. Forward passes keep
/// one per intermediate activation, so steady-state decoding allocates nothing.
public final class ScratchBuffer: @unchecked Sendable {
    public private(set) var capacity: Int = 0  // in bytes
    public private(set) var raw: UnsafeMutableRawPointer

    public init(bytes: Int = 64) {
        capacity = max(64, bytes)
        raw = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
    }

    deinit { raw.deallocate() }

    /// Ensures room for `bytes`; contents are not preserved when it grows.
    @discardableResult
    public func reserve(bytes: Int) -> UnsafeMutableRawPointer {
        if bytes > capacity {
            raw.deallocate()
            // Grow by at least half, so a buffer sized by the context length (attention
            // scores) reallocates a handful of times per sequence, not at every token.
            capacity = max(bytes, capacity + capacity / 2)
            raw = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        }
        return raw
    }

    /// Ensures room for `count` floats and returns them.
    public func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        reserve(bytes: max(1, count) * 4).assumingMemoryBound(to: Float.self)
    }
}

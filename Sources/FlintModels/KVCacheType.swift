import CFlintKernels

/// How the KV cache stores keys and values (`--kv-cache-dtype`, llama.cpp's `-ctk/-ctv`):
/// F16, or Q8_0 blocks of 32 values with an F16 scale (34 bytes for 32 values, 53% of F16),
/// which the attention kernels widen block by block as they read them.
public enum KVCacheType: String, Sendable, CaseIterable {
    case f16
    case q8_0

    /// The kernels' code (FLINT_KV_*).
    var kernelCode: Int32 {
        switch self {
        case .f16: FLINT_KV_F16
        case .q8_0: FLINT_KV_Q8_0
        }
    }

    /// Bytes of one cached row of `dimension` values (one KV head of one position).
    public func rowBytes(dimension: Int) -> Int {
        Int(flint_kv_row_elems(kernelCode, Int32(dimension))) * 2
    }

    /// Why a model of this shape cannot use this type, or nil when it can: Q8_0 quantizes
    /// whole blocks of 32 values, so a head must be a multiple of 32.
    public func unsupportedReason(_ shape: ModelShape) -> String? {
        guard self == .q8_0, shape.headDim % 32 != 0 || shape.valueDim % 32 != 0 else { return nil }
        return "the q8_0 KV cache needs head sizes that are multiples of 32 (this model's keys have \(shape.headDim), values \(shape.valueDim))"
    }
}

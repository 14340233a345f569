import CFlintKernels

/// Adapter tensors (F32, F16, BF16) to f32, with the kernels' half conversions.
enum FloatConversion {
    static func floatToHalf(_ f: Float) -> UInt16 { flint_fp32_to_fp16(f) }
    static func floatToBF16(_ f: Float) -> UInt16 { flint_fp32_to_bf16(f) }

    /// Little-endian elements of `dtype` (F32, F16 or BF16) to f32; `src` may be unaligned.
    static func toFloats(_ src: UnsafeRawBufferPointer, dtype: SafeTensorsDType, count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { out, initialized in
            switch dtype {
            case .f32:
                for i in 0..<count {
                    out[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                }
            case .f16:
                for i in 0..<count {
                    out[i] = flint_fp16_to_fp32(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            case .bf16:
                for i in 0..<count {
                    out[i] = flint_bf16_to_fp32(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            default:
                preconditionFailure("callers check isReadableAsFloat")
            }
            initialized = count
        }
    }
}

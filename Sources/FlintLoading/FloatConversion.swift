/// Half-precision conversions done in Swift, so that reading adapters does not depend
/// on `Float16` (absent on some platforms) or on the C kernels.
enum FloatConversion {
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0 {
            // Zero or subnormal: value = mantissa · 2^-24.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        if exponent == 31 {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
    }

    /// Round-to-nearest-even, overflow to infinity, NaN kept NaN.
    static func floatToHalf(_ f: Float) -> UInt16 {
        let bits = f.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        if f.isNaN { return sign | 0x7E00 }
        let a = abs(f)
        if a >= 65520 { return sign | 0x7C00 }
        if a < 0x1p-14 {
            // Subnormal half: units of 2^-24, rounded to nearest even by the FPU.
            let units = (a * 0x1p24).rounded(.toNearestOrEven)
            return sign | UInt16(units)
        }
        let e = Int((bits >> 23) & 0xFF) - 127 + 15
        var m = bits & 0x7F_FFFF
        var half = UInt32(e) << 10 | (m >> 13)
        m &= 0x1FFF
        if m > 0x1000 || (m == 0x1000 && half & 1 == 1) { half += 1 }
        return sign | UInt16(half)
    }

    static func bf16ToFloat(_ h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }

    static func floatToBF16(_ f: Float) -> UInt16 {
        if f.isNaN { return UInt16(f.bitPattern >> 16) | 0x40 }
        let bits = f.bitPattern
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(rounded >> 16)
    }

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
                    out[i] = halfToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            case .bf16:
                for i in 0..<count {
                    out[i] = bf16ToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            default:
                preconditionFailure("callers check isReadableAsFloat")
            }
            initialized = count
        }
    }
}

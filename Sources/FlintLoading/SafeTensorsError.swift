/// Everything that can be wrong with a safetensors file. Each case names the tensor
/// (or the header field) at fault, so that a bad upload is diagnosable from the message.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    case io(String)
    case fileTooSmall(size: Int)
    case headerTooLarge(length: UInt64, fileSize: Int)
    case headerNotUTF8
    case headerNotJSON(String)
    case headerNotObject
    case badMetadata(String)
    case badEntry(tensor: String, problem: String)
    case unknownDType(tensor: String, dtype: String)
    case badShape(tensor: String, shape: [Int], problem: String)
    case sizeMismatch(tensor: String, dtype: String, shape: [Int], expectedBytes: Int, declaredBytes: Int)
    case outOfBounds(tensor: String, begin: Int, end: Int, dataSize: Int)
    case overlap(first: String, second: String)
    case missingTensor(String)
    case unsupportedDType(tensor: String, dtype: String)
    case invalidWrite(String)

    public var description: String {
        switch self {
        case .io(let m):
            return m
        case .fileTooSmall(let s):
            return "not a safetensors file: \(s) bytes is too small to hold the 8-byte header length"
        case .headerTooLarge(let n, let s):
            return "safetensors header length \(n) is impossible for a file of \(s) bytes (limit: 100 MB and the file size minus 8)"
        case .headerNotUTF8:
            return "safetensors header is not valid UTF-8"
        case .headerNotJSON(let m):
            return "safetensors header is not valid JSON: \(m)"
        case .headerNotObject:
            return "safetensors header is not a JSON object"
        case .badMetadata(let m):
            return "safetensors __metadata__ is invalid: \(m)"
        case .badEntry(let t, let p):
            return "safetensors tensor '\(t)': \(p)"
        case .unknownDType(let t, let d):
            return "safetensors tensor '\(t)' has unknown dtype '\(d)'"
        case .badShape(let t, let s, let p):
            return "safetensors tensor '\(t)' has invalid shape \(s): \(p)"
        case .sizeMismatch(let t, let d, let s, let e, let f):
            return "safetensors tensor '\(t)' (\(d), shape \(s)) needs \(e) bytes but its data_offsets span \(f)"
        case .outOfBounds(let t, let b, let e, let s):
            return "safetensors tensor '\(t)' data_offsets [\(b), \(e)) lie outside the data region of \(s) bytes"
        case .overlap(let a, let b):
            return "safetensors tensors '\(a)' and '\(b)' overlap"
        case .missingTensor(let n):
            return "safetensors file has no tensor '\(n)'"
        case .unsupportedDType(let t, let d):
            return "safetensors tensor '\(t)' has dtype \(d); only F32, F16 and BF16 can be read as floats"
        case .invalidWrite(let m):
            return "cannot write safetensors: \(m)"
        }
    }
}

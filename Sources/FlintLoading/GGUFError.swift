/// Everything that can be wrong with a GGUF file. Each case says what and where
/// (a byte offset), so a bad download or a corrupted file is diagnosable.
public enum GGUFError: Error, CustomStringConvertible, Equatable {
    case badMagic(found: UInt32)
    case unsupportedVersion(UInt32)
    case truncated(offset: Int, need: Int, fileSize: Int, what: String)
    case invalidValueType(UInt32, offset: Int, key: String)
    case invalidUTF8(offset: Int, what: String)
    case countTooLarge(count: UInt64, offset: Int, what: String)
    case nestingTooDeep(offset: Int, key: String)
    case duplicateKey(String)
    case duplicateTensor(String)
    case badAlignment(UInt64)
    case badTensorRank(name: String, dims: UInt32)
    case badTensorShape(name: String, shape: [UInt64])
    case unsupportedTensorType(name: String, type: UInt32)
    case tensorNotBlockAligned(name: String, elements: UInt64, blockElements: Int)
    case misalignedTensorOffset(name: String, offset: UInt64, alignment: Int)
    case tensorOutOfBounds(name: String, start: UInt64, size: UInt64, dataSize: Int)
    case missingKey(String)
    case wrongKeyType(key: String, expected: String)
    case missingTensor(String)
    case wrongTensorShape(name: String, expected: [Int], found: [Int])
    case io(String)

    public var description: String {
        switch self {
        case .badMagic(let m):
            return "not a GGUF file: magic 0x\(String(m, radix: 16)) at offset 0 (expected 0x46554747 'GGUF')"
        case .unsupportedVersion(let v):
            return "unsupported GGUF version \(v) at offset 4 (supported: 2, 3)"
        case .truncated(let o, let n, let s, let w):
            return "file truncated: \(w) needs \(n) bytes at offset \(o), but the file has \(s) bytes"
        case .invalidValueType(let t, let o, let k):
            return "invalid metadata value type \(t) for key '\(k)' at offset \(o)"
        case .invalidUTF8(let o, let w):
            return "\(w) at offset \(o) is not valid UTF-8"
        case .countTooLarge(let c, let o, let w):
            return "\(w) count \(c) at offset \(o) exceeds what the file can hold"
        case .nestingTooDeep(let o, let k):
            return "metadata array for key '\(k)' nested too deeply at offset \(o)"
        case .duplicateKey(let k):
            return "duplicate metadata key '\(k)'"
        case .duplicateTensor(let n):
            return "duplicate tensor name '\(n)'"
        case .badAlignment(let a):
            return "general.alignment \(a) is not a power of two between 1 and 65536"
        case .badTensorRank(let n, let d):
            return "tensor '\(n)' has \(d) dimensions (1...4 supported)"
        case .badTensorShape(let n, let s):
            return "tensor '\(n)' has invalid shape \(s)"
        case .unsupportedTensorType(let n, let t):
            return "tensor '\(n)' has unsupported type id \(t)"
        case .tensorNotBlockAligned(let n, let e, let b):
            return "tensor '\(n)' row length \(e) is not a multiple of its block size \(b)"
        case .misalignedTensorOffset(let n, let o, let a):
            return "tensor '\(n)' data offset \(o) is not aligned to \(a)"
        case .tensorOutOfBounds(let n, let st, let sz, let ds):
            return "tensor '\(n)' data [\(st), \(st &+ sz)) lies outside the data section of \(ds) bytes"
        case .missingKey(let k):
            return "required metadata key '\(k)' is missing"
        case .wrongKeyType(let k, let e):
            return "metadata key '\(k)' is not \(e)"
        case .missingTensor(let n):
            return "required tensor '\(n)' is missing"
        case .wrongTensorShape(let n, let e, let f):
            return "tensor '\(n)' has shape \(f), expected \(e)"
        case .io(let m):
            return m
        }
    }
}

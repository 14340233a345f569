/// Per-scalar character classes used by the pre-tokenizers, matching llama.cpp's
/// codepoint flags: letter = \p{L}, number = \p{N}, whitespace = White_Space (\s),
/// punctuation = \p{P}. `valid` marks an in-range position (llama.cpp's non-zero flags).
enum ScalarClass {
    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    static let whitespace: UInt8 = 4
    static let punctuation: UInt8 = 8
    static let valid: UInt8 = 16

    private static let asciiTable: [UInt8] = (0..<128).map { compute(UInt32($0)) }

    @inline(__always)
    static func flags(_ value: UInt32) -> UInt8 {
        value < 128 ? asciiTable[Int(value)] : compute(value)
    }

    static func compute(_ value: UInt32) -> UInt8 {
        guard let scalar = Unicode.Scalar(value) else { return valid }
        let properties = scalar.properties
        var f = valid
        if properties.isWhitespace { f |= whitespace }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            f |= letter
        case .decimalNumber, .letterNumber, .otherNumber:
            f |= number
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            f |= punctuation
        default:
            break
        }
        return f
    }
}

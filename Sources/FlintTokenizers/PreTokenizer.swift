/// Splits text into the words that byte-level BPE merges within, reproducing the
/// regular-expression pipelines llama.cpp uses per `tokenizer.ggml.pre` value with
/// hand-written matchers over Unicode scalars (no regex engine).
///
/// A pipeline is a list of stages; each stage re-splits every piece produced by the
/// previous one, and text a stage's pattern does not match stays as its own piece
/// (llama.cpp's unicode_regex_split semantics).
struct PreTokenizer: Sendable, Equatable {
    enum Stage: Sendable, Equatable {
        /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
        case gpt2
        /// `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|`
        /// `\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
        case llama3(maxDigits: Int)
        /// `\p{N}`: every number character on its own.
        case eachNumber
        /// `\p{N}+`
        case numberRuns
        /// `[0-9][0-9][0-9]`
        case asciiDigitTriples
        /// `[\p{P}\$\+<=>\^~\|]+` (with `extraBacktick`, also `` ` ``)
        case punctuationRuns(extraBacktick: Bool)
    }

    let stages: [Stage]
    /// llama.cpp's ignore_merges: a word that is a whole vocabulary token is used as is.
    let ignoreMerges: Bool
    /// Whether llama.cpp adds BOS by default for this pre-tokenizer (GGUF may override).
    let defaultAddBOS: Bool

    static func named(_ name: String) -> PreTokenizer {
        switch name {
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2":
            return PreTokenizer(stages: [.llama3(maxDigits: 3)], ignoreMerges: true, defaultAddBOS: true)
        case "dbrx", "smaug-bpe", "chatglm-bpe", "glm4", "gpt-4o", "llama4", "kanana", "hunyuan-dense":
            return PreTokenizer(stages: [.llama3(maxDigits: 3)], ignoreMerges: false, defaultAddBOS: false)
        case "qwen2", "qwen35", "deepseek-r1-qwen", "megrez", "stablelm2", "hunyuan", "grok-2":
            return PreTokenizer(stages: [.llama3(maxDigits: 1)], ignoreMerges: false, defaultAddBOS: false)
        case "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b":
            return PreTokenizer(stages: [.eachNumber, .gpt2], ignoreMerges: false, defaultAddBOS: false)
        case "falcon":
            return PreTokenizer(stages: [.punctuationRuns(extraBacktick: true), .gpt2, .asciiDigitTriples],
                                ignoreMerges: false, defaultAddBOS: false)
        case "default":
            return PreTokenizer(stages: [.punctuationRuns(extraBacktick: false), .gpt2, .numberRuns, .asciiDigitTriples],
                                ignoreMerges: false, defaultAddBOS: false)
        default:
            // "gpt2", "gpt-2", "mpt", "olmo", "jais", "trillion" and anything unknown.
            return PreTokenizer(stages: [.gpt2], ignoreMerges: false, defaultAddBOS: false)
        }
    }

    /// Splits `cps[0..<cps.count]` (with per-scalar `flags`) into pieces, returned as
    /// consecutive end offsets in `ends` (piece i spans ends[i-1]..<ends[i]).
    func split(cps: UnsafeBufferPointer<UInt32>, flags: UnsafeBufferPointer<UInt8>) -> [Int] {
        var ends: [Int] = cps.isEmpty ? [] : [cps.count]
        for stage in stages {
            var next: [Int] = []
            next.reserveCapacity(max(16, cps.count / 3))
            var start = 0
            for end in ends {
                Self.apply(stage, cps: cps, flags: flags, start: start, end: end, into: &next)
                start = end
            }
            ends = next
        }
        return ends
    }

    private static func apply(_ stage: Stage, cps: UnsafeBufferPointer<UInt32>, flags: UnsafeBufferPointer<UInt8>,
                              start: Int, end: Int, into out: inout [Int]) {
        switch stage {
        case .gpt2:
            gpt2(cps: cps, flags: flags, start: start, end: end, into: &out)
        case .llama3(let maxDigits):
            llama3(cps: cps, flags: flags, start: start, end: end, maxDigits: maxDigits, into: &out)
        case .eachNumber:
            var runStart = start
            for i in start..<end where flags[i] & ScalarClass.number != 0 {
                if i > runStart { out.append(i) }
                out.append(i + 1)
                runStart = i + 1
            }
            if runStart < end { out.append(end) }
        case .numberRuns:
            runs(flags: flags, start: start, end: end, into: &out) { _, f in f & ScalarClass.number != 0 }
        case .punctuationRuns(let extraBacktick):
            runs(flags: flags, start: start, end: end, into: &out) { i, f in
                if f & ScalarClass.punctuation != 0 { return true }
                switch cps[i] {
                case 0x24, 0x2B, 0x3C, 0x3D, 0x3E, 0x5E, 0x7E, 0x7C: return true  // $ + < = > ^ ~ |
                case 0x60: return extraBacktick
                default: return false
                }
            }
        case .asciiDigitTriples:
            @inline(__always) func isDigit(_ i: Int) -> Bool { cps[i] >= 0x30 && cps[i] <= 0x39 }
            var pos = start
            var last = start
            while pos + 3 <= end {
                if isDigit(pos) && isDigit(pos + 1) && isDigit(pos + 2) {
                    if pos > last { out.append(pos) }
                    out.append(pos + 3)
                    pos += 3
                    last = pos
                } else {
                    pos += 1
                }
            }
            if last < end { out.append(end) }
        }
    }

    /// Maximal runs of scalars satisfying `member` are pieces; text between runs is kept.
    private static func runs(flags: UnsafeBufferPointer<UInt8>, start: Int, end: Int, into out: inout [Int],
                             member: (Int, UInt8) -> Bool) {
        var i = start
        var last = start
        while i < end {
            if member(i, flags[i]) {
                if i > last { out.append(i) }
                var j = i + 1
                while j < end && member(j, flags[j]) { j += 1 }
                out.append(j)
                last = j
                i = j
            } else {
                i += 1
            }
        }
        if last < end { out.append(end) }
    }

    private static func gpt2(cps: UnsafeBufferPointer<UInt32>, flags: UnsafeBufferPointer<UInt8>,
                             start: Int, end: Int, into out: inout [Int]) {
        let L = ScalarClass.letter, N = ScalarClass.number, W = ScalarClass.whitespace
        @inline(__always) func flagsAt(_ i: Int) -> UInt8 { i < end ? flags[i] : 0 }
        var pos = start
        while pos < end {
            let c = cps[pos]
            let f = flags[pos]
            // 's|'t|'re|'ve|'m|'ll|'d
            if c == 0x27 && pos + 1 < end {
                let n = cps[pos + 1]
                if n == 0x73 || n == 0x74 || n == 0x6D || n == 0x64 {  // s t m d
                    pos += 2; out.append(pos); continue
                }
                if pos + 2 < end {
                    let nn = cps[pos + 2]
                    if (n == 0x72 && nn == 0x65) || (n == 0x76 && nn == 0x65) || (n == 0x6C && nn == 0x6C) {
                        pos += 3; out.append(pos); continue
                    }
                }
            }
            let f2 = c == 0x20 ? flagsAt(pos + 1) : f
            // ' ?\p{L}+'
            if f2 & L != 0 {
                if c == 0x20 { pos += 1 }
                while flagsAt(pos) & L != 0 { pos += 1 }
                out.append(pos); continue
            }
            // ' ?\p{N}+'
            if f2 & N != 0 {
                if c == 0x20 { pos += 1 }
                while flagsAt(pos) & N != 0 { pos += 1 }
                out.append(pos); continue
            }
            // ' ?[^\s\p{L}\p{N}]+'
            if f2 & (W | L | N) == 0 && f2 != 0 {
                if c == 0x20 { pos += 1 }
                while true {
                    let g = flagsAt(pos)
                    if g & (W | L | N) != 0 || g == 0 { break }
                    pos += 1
                }
                out.append(pos); continue
            }
            var spaces = 0
            while flagsAt(pos + spaces) & W != 0 { spaces += 1 }
            // '\s+(?!\S)'
            if spaces > 1 && pos + spaces < end {
                pos += spaces - 1; out.append(pos); continue
            }
            // '\s+'
            if spaces > 0 {
                pos += spaces; out.append(pos); continue
            }
            pos += 1
            out.append(pos)
        }
    }

    private static func llama3(cps: UnsafeBufferPointer<UInt32>, flags: UnsafeBufferPointer<UInt8>,
                               start: Int, end: Int, maxDigits: Int, into out: inout [Int]) {
        let L = ScalarClass.letter, N = ScalarClass.number, W = ScalarClass.whitespace
        @inline(__always) func flagsAt(_ i: Int) -> UInt8 { i < end ? flags[i] : 0 }
        @inline(__always) func lowerASCII(_ c: UInt32) -> UInt32 { (c >= 0x41 && c <= 0x5A) ? c | 0x20 : c }
        var pos = start
        while pos < end {
            let c = cps[pos]
            let f = flags[pos]
            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            if c == 0x27 && pos + 1 < end {
                let n = lowerASCII(cps[pos + 1])
                if n == 0x73 || n == 0x74 || n == 0x6D || n == 0x64 {
                    pos += 2; out.append(pos); continue
                }
                if pos + 2 < end {
                    let nn = lowerASCII(cps[pos + 2])
                    if (n == 0x72 && nn == 0x65) || (n == 0x76 && nn == 0x65) || (n == 0x6C && nn == 0x6C) {
                        pos += 3; out.append(pos); continue
                    }
                }
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !(c == 0x0D || c == 0x0A || f & N != 0) {
                if f & L != 0 || flagsAt(pos + 1) & L != 0 {
                    pos += 1
                    while flagsAt(pos) & L != 0 { pos += 1 }
                    out.append(pos); continue
                }
            }
            // \p{N}{1,maxDigits}
            if f & N != 0 {
                var groupStart = pos
                while flagsAt(pos) & N != 0 {
                    pos += 1
                    if pos - groupStart >= maxDigits {
                        out.append(pos)
                        groupStart = pos
                    }
                }
                if pos > groupStart { out.append(pos) }
                continue
            }
            // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
            var f2 = c == 0x20 ? flagsAt(pos + 1) : f
            if f2 & (W | L | N) == 0 && f != 0 {
                if c == 0x20 { pos += 1 }
                while f2 & (W | L | N) == 0 && f2 != 0 {
                    pos += 1
                    f2 = flagsAt(pos)
                }
                while pos < end && (cps[pos] == 0x0D || cps[pos] == 0x0A) { pos += 1 }
                out.append(pos); continue
            }
            var spaces = 0
            var lastLineBreakEnd = -1
            while flagsAt(pos + spaces) & W != 0 {
                let c2 = cps[pos + spaces]
                if c2 == 0x0D || c2 == 0x0A { lastLineBreakEnd = pos + spaces + 1 }
                spaces += 1
            }
            // \s*[\r\n]+
            if lastLineBreakEnd >= 0 {
                pos = lastLineBreakEnd; out.append(pos); continue
            }
            // \s+(?!\S)
            if spaces > 1 && pos + spaces < end {
                pos += spaces - 1; out.append(pos); continue
            }
            // \s+
            if spaces > 0 {
                pos += spaces; out.append(pos); continue
            }
            pos += 1
            out.append(pos)
        }
    }
}

/// Where a lazy grammar starts: free text until the output shows one of these, then the
/// output from the match on must follow the grammar (tool calls inside a free answer).
public struct GrammarTrigger: Sendable, Equatable {
    /// Strings that start the grammar wherever they appear.
    public var words: [[UInt8]]
    /// Strings that start the grammar when the output begins with them; whitespace in
    /// the output and in the pattern is ignored when comparing.
    public var prefixes: [[UInt8]]

    public init(words: [String] = [], prefixes: [String] = []) {
        self.words = words.map { Array($0.utf8) }.filter { !$0.isEmpty }
        self.prefixes = prefixes.map { $0.utf8.filter { !Self.isSpace($0) } }.filter { !$0.isEmpty }
    }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }

    /// Where in `output` the grammar starts, if it does. `newFrom` is where the bytes
    /// added since the last call begin (earlier ones were already searched).
    public func match(in output: [UInt8], newFrom: Int) -> Int? {
        var best: Int?
        for w in words where output.count >= w.count {
            var i = max(0, newFrom - w.count + 1)
            while i + w.count <= output.count {
                if output[i] == w[0] && output[i ..< i + w.count].elementsEqual(w) { best = min(best ?? i, i); break }
                i += 1
            }
        }
        if !prefixes.isEmpty, let start = output.firstIndex(where: { !Self.isSpace($0) }) {
            let compact = output[start...].lazy.filter { !Self.isSpace($0) }
            for p in prefixes where compact.starts(with: p) { return start }
        }
        return best
    }
}

/// Finds stop strings in streamed text, across token boundaries. Text is released only
/// once it can no longer be the beginning of a stop string, and a stop string itself (with
/// everything after it) is never released.
struct StopStringMatcher: Sendable {
    private let stops: [[UInt8]]
    private var held: [UInt8] = []

    init(_ stops: [String]) {
        self.stops = stops.map { Array($0.utf8) }.filter { !$0.isEmpty }
    }

    var isEmpty: Bool { stops.isEmpty }

    /// Adds `text`; returns the text that is now safe to emit and whether a stop string
    /// was found (then nothing more should be generated).
    mutating func append(_ text: String) -> (text: String, stopped: Bool) {
        if stops.isEmpty { return (text, false) }
        held.append(contentsOf: text.utf8)
        // Earliest occurrence of any stop string.
        var first: Int?
        for s in stops where s.count <= held.count {
            if let at = Self.find(s, in: held), at < (first ?? Int.max) { first = at }
        }
        if let at = first {
            let out = String(decoding: held[0..<at], as: UTF8.self)
            held.removeAll()
            return (out, true)
        }
        // Hold back the longest suffix that could still grow into a stop string. It starts
        // at the first byte of a stop string, so it never splits a UTF-8 character.
        var keep = 0
        for s in stops {
            var k = min(s.count - 1, held.count)
            while k > keep {
                if held[(held.count - k)...].elementsEqual(s[0..<k]) { keep = k; break }
                k -= 1
            }
        }
        let cut = held.count - keep
        let out = String(decoding: held[0..<cut], as: UTF8.self)
        held.removeFirst(cut)
        return (out, false)
    }

    /// Text still held back, released when the completion ends for another reason.
    mutating func flush() -> String {
        defer { held.removeAll() }
        return String(decoding: held, as: UTF8.self)
    }

    private static func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard needle.count <= hay.count else { return nil }
        var i = 0
        while i + needle.count <= hay.count {
            if hay[i] == needle[0] && hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}

/// A string-keyed dictionary that remembers insertion order, like a Python
/// `dict`. Template output (`tojson`, `items()`, iteration) follows this order.
public struct JinjaObject: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var keys: [String] = []
    private var storage: [String: JinjaValue] = [:]

    public init() {}

    public init(_ pairs: [(String, JinjaValue)]) {
        for (k, v) in pairs { self[k] = v }
    }

    public init(dictionaryLiteral elements: (String, JinjaValue)...) {
        for (k, v) in elements { self[k] = v }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// Values in insertion order.
    public var values: [JinjaValue] { keys.map { storage[$0] ?? .undefined } }

    /// Key/value pairs in insertion order.
    public var pairs: [(key: String, value: JinjaValue)] { keys.map { ($0, storage[$0] ?? .undefined) } }

    /// Setting an existing key keeps its position; a new key goes last;
    /// assigning `nil` removes the key.
    public subscript(key: String) -> JinjaValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public func contains(key: String) -> Bool { storage[key] != nil }

    public func makeIterator() -> AnyIterator<(key: String, value: JinjaValue)> {
        var index = 0
        let keys = self.keys
        let storage = self.storage
        return AnyIterator {
            guard index < keys.count else { return nil }
            let k = keys[index]
            index += 1
            return (k, storage[k] ?? .undefined)
        }
    }

    /// Equality ignores order, like Python dicts.
    public static func == (lhs: JinjaObject, rhs: JinjaObject) -> Bool {
        lhs.storage == rhs.storage
    }
}

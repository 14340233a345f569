import FlintTensor

/// A GGUF model file: its header plus the memory map that tensor data is read from.
public final class GGUFFile: Sendable {
    public let path: String
    public let header: GGUFHeader
    public let mapping: MappedFile

    /// The file at `path`, with the metadata keys of `overriding` replaced or added (as
    /// llama.cpp's --override-kv: e.g. a model run with rotary scaling its file does not ask for).
    public init(path: String, overriding: [String: GGUFValue] = [:]) throws {
        let mapping: MappedFile
        do { mapping = try MappedFile(path: path) } catch { throw GGUFError.io("\(error)") }
        self.path = path
        self.mapping = mapping
        var header = try GGUFHeader(bytes: mapping.bytes)
        header.metadata.merge(overriding) { $1 }
        self.header = header
    }

    public var metadata: [String: GGUFValue] { header.metadata }
    public var tensors: [GGUFTensorInfo] { header.tensors }
    public var architecture: String? { header.metadata["general.architecture"]?.stringValue }

    public func tensorInfo(_ name: String) -> GGUFTensorInfo? {
        header.tensorIndex[name].map { header.tensors[$0] }
    }

    /// Pointer to the tensor's bytes inside the map (bounds were checked at parse time).
    public func data(of info: GGUFTensorInfo) -> UnsafeRawPointer {
        mapping.base + info.fileOffset
    }

    // MARK: typed metadata access

    public func string(_ key: String) throws -> String {
        guard let v = metadata[key] else { throw GGUFError.missingKey(key) }
        guard let s = v.stringValue else { throw GGUFError.wrongKeyType(key: key, expected: "a string") }
        return s
    }

    public func int(_ key: String) throws -> Int {
        guard let v = metadata[key] else { throw GGUFError.missingKey(key) }
        guard let i = v.intValue else { throw GGUFError.wrongKeyType(key: key, expected: "an integer") }
        return i
    }

    public func optionalInt(_ key: String) throws -> Int? {
        guard let v = metadata[key] else { return nil }
        guard let i = v.intValue else { throw GGUFError.wrongKeyType(key: key, expected: "an integer") }
        return i
    }

    public func optionalFloat(_ key: String) throws -> Double? {
        guard let v = metadata[key] else { return nil }
        guard let d = v.doubleValue else { throw GGUFError.wrongKeyType(key: key, expected: "a number") }
        return d
    }

    public func optionalBool(_ key: String) throws -> Bool? {
        guard let v = metadata[key] else { return nil }
        guard let b = v.boolValue else { throw GGUFError.wrongKeyType(key: key, expected: "a boolean") }
        return b
    }
}

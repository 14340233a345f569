#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file. Weights are used straight from the map,
/// so loading a model costs page-table entries, not copies.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    public let base: UnsafeRawPointer

    public enum Failure: Error, CustomStringConvertible {
        case open(String, Int32)
        case stat(String, Int32)
        case map(String, Int32)
        case empty(String)

        public var description: String {
            switch self {
            case .open(let p, let e): return "cannot open \(p): \(String(cString: strerror(e)))"
            case .stat(let p, let e): return "cannot stat \(p): \(String(cString: strerror(e)))"
            case .map(let p, let e): return "cannot mmap \(p): \(String(cString: strerror(e)))"
            case .empty(let p): return "\(p) is empty"
            }
        }
    }

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw Failure.open(path, errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Failure.stat(path, errno) }
        let size = Int(st.st_size)
        guard size > 0 else { throw Failure.empty(path) }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw Failure.map(path, errno)
        }
        self.size = size
        self.base = UnsafeRawPointer(p)
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), size)
    }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }
}

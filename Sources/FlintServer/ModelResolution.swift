import FlintEngine
import Metrics

/// What a request's "model" names: the base model or one of its adapters — `<base>:<adapter>`,
/// `accounts/<account>/models/<adapter>` or the adapter's bare name. Unknown names are a 404.
enum ModelResolution {
    /// The adapter the request's "model" names, leased for as long as the request holds the
    /// lease; nil for the base model.
    static func lease(_ f: RequestFields, engine: some InferenceEngine) throws(APIError) -> AdapterLease? {
        guard let requested = try f.string("model") else { throw APIError.invalid("'model' is required", param: "model") }
        guard let adapter = try adapterName(requested, engine: engine) else { return nil }
        guard let registry = engine.adapters else { throw APIError.modelNotFound(requested) }
        do { return AdapterLease(registry: registry, name: adapter, slot: try registry.acquire(adapter)) } catch {
            if case .notFound? = error as? LoRARegistryError { throw APIError.modelNotFound(requested) }
            throw APIError.adapter(error as? LoRARegistryError ?? .io("\(error)"))
        }
    }

    /// The adapter part of a model name; nil for the base model.
    static func adapterName(_ requested: String, engine: some InferenceEngine) throws(APIError) -> String? {
        let parts = requested.split(separator: "/", omittingEmptySubsequences: false)
        let name = parts.count == 4 && parts[0] == "accounts" && !parts[1].isEmpty && parts[2] == "models"
            ? String(parts[3]) : requested
        if name == engine.modelName { return nil }
        let adapter = name.hasPrefix(engine.modelName + ":") ? String(name.dropFirst(engine.modelName.count + 1)) : name
        guard engine.adapters?.info(adapter) != nil else { throw APIError.modelNotFound(requested) }
        return adapter
    }
}

/// A request's hold on an adapter's slot: while any request holds one, the adapter is not
/// evicted. Released when the last reference goes (the request finished, failed or was
/// cancelled).
final class AdapterLease: Sendable {
    let registry: LoRARegistry
    let name: String
    let slot: Int32

    init(registry: LoRARegistry, name: String, slot: Int32) {
        self.registry = registry
        self.name = name
        self.slot = slot
    }

    deinit { registry.release(name) }

    /// Token counts per adapter ("base" for none), for accounting; a token costs the same either way.
    static func account(_ u: Usage, adapter: AdapterLease?) {
        let dimensions = [("adapter", adapter?.name ?? "base")]
        Counter(label: "flint_adapter_prompt_tokens_total", dimensions: dimensions).increment(by: u.promptTokens)
        Counter(label: "flint_adapter_completion_tokens_total", dimensions: dimensions).increment(by: u.completionTokens)
        Counter(label: "flint_adapter_requests_total", dimensions: dimensions).increment()
    }
}

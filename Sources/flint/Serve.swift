import ArgumentParser
import FlintEngine
import FlintTensor
import FlintServer
import Foundation
import Logging
import Metrics
import Prometheus

/// `flint serve`: the OpenAI-compatible HTTP server.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve a model over an OpenAI-compatible HTTP API.")

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(name: .long, help: "Port to listen on (0 picks a free one).")
    var port: Int = 8080

    @Option(name: .customLong("api-key"), help: "Accepted API key (repeat for several); without any, no key is needed.")
    var apiKeys: [String] = []

    @OptionGroup var engineOptions: EngineOptions

    @OptionGroup var loraOptions: LoRAOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        if apiKeys.contains(where: \.isEmpty) { throw ValidationError("--api-key must not be empty") }
    }

    func run() async throws {
        let loaded: LoadedModel
        do { loaded = try options.load() } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        var logger = Logger(label: "flint")
        logger.logLevel = .info
        let store = AdapterStoreConfiguration(directory: loraOptions.storeDirectory(model: options.servedName),
                                              maxRank: loraOptions.maxRank, slots: loraOptions.slots,
                                              memoryBudget: loraOptions.memoryBytes)
        try engineOptions.kvCache.check(loaded)
        let draft = try engineOptions.loadDraft(for: loaded)
        let engine: LocalInferenceEngine
        do {
            engine = try LocalInferenceEngine(name: options.servedName, model: loaded,
                                              configuration: engineOptions.configuration(threads: options.threads), adapterStore: store,
                                              draft: draft)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
        try engineOptions.checkMaxModelLength(engine: engine.engine, contextLength: loaded.model.config.contextLength)
        for (name, reason) in engine.adapters?.skipped ?? [] {
            logger.warning("adapter '\(name)' in the store was not loaded: \(reason)")
        }
        let config = ServerConfiguration(host: host, port: port, apiKeys: Set(apiKeys), maxAdapterUploadBytes: loraOptions.maxUploadBytes)
        let name = engine.modelName
        let host = self.host
        let maxModelLength = engine.maxModelLength
        try await runServer(engine: engine, configuration: config, registry: registry, logger: logger) { port in
            FileHandle.standardError.write(Data("flint serve: \(name) on http://\(host):\(port)/v1 (kernels: \(KernelPath.current), max model len \(maxModelLength))\n".utf8))
        }
    }
}

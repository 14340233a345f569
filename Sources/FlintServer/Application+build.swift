import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// Where and how the server listens.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Accepted bearer keys; empty = no authentication.
    public var apiKeys: Set<String>
    /// Largest request body accepted (bigger is a 413).
    public var maxBodyBytes: Int
    /// How long in-flight requests may run on after SIGTERM/SIGINT.
    public var drainSeconds: Double
    /// Cancel a generation when its client closes the connection (ConnectionWatch). Off only
    /// for in-process router tests, whose requests have no connection.
    public var cancelOnDisconnect: Bool
    /// Largest adapter upload accepted (bigger is a 413).
    public var maxAdapterUploadBytes: Int

    public init(host: String = "127.0.0.1", port: Int = 8080, apiKeys: Set<String> = [], maxBodyBytes: Int = 8 << 20,
                drainSeconds: Double = 30, cancelOnDisconnect: Bool = true, maxAdapterUploadBytes: Int = 1 << 30) {
        self.host = host
        self.port = port
        self.apiKeys = apiKeys
        self.maxBodyBytes = maxBodyBytes
        self.drainSeconds = drainSeconds
        self.cancelOnDisconnect = cancelOnDisconnect
        self.maxAdapterUploadBytes = maxAdapterUploadBytes
    }
}

/// Every route of the OpenAI-compatible API, the health check and the metrics page.
public func buildRouter<Engine: InferenceEngine>(engine: Engine, configuration: ServerConfiguration,
                                                 registry: PrometheusCollectorRegistry) -> Router<FlintRequestContext> {
    let router = Router(context: FlintRequestContext.self)
    router.add(middleware: HTTPMetricsMiddleware())
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: APIKeyMiddleware(keys: configuration.apiKeys))
    router.get("/health") { _, _ in HealthBody() }
    router.get("/metrics") { _, _ in
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
    }
    ModelsController(engine: engine).addRoutes(to: router)
    AdaptersController(engine: engine, maxUploadBytes: configuration.maxAdapterUploadBytes).addRoutes(to: router)
    ChatCompletionsController(engine: engine, maxBodyBytes: configuration.maxBodyBytes,
                              cancelOnDisconnect: configuration.cancelOnDisconnect).addRoutes(to: router)
    CompletionsController(engine: engine, maxBodyBytes: configuration.maxBodyBytes,
                          cancelOnDisconnect: configuration.cancelOnDisconnect).addRoutes(to: router)
    return router
}

/// The HTTP application for `engine` (the engine's lifecycle is run separately, see `runServer`).
public func buildApplication<Engine: InferenceEngine>(engine: Engine, configuration: ServerConfiguration,
                                                      registry: PrometheusCollectorRegistry, logger: Logger,
                                                      onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in })
    -> some ApplicationProtocol {
    Application(router: buildRouter(engine: engine, configuration: configuration, registry: registry),
                server: .http1(configuration: .init(additionalChannelHandlers: [ConnectionWatch()])),
                configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "flint"),
                onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
                logger: logger)
}

/// Serves until SIGINT or SIGTERM: then the server stops accepting connections and lets
/// open requests finish, the engine drains (at most `drainSeconds`), and the call returns.
public func runServer<Engine: InferenceEngine>(engine: Engine, configuration: ServerConfiguration,
                                               registry: PrometheusCollectorRegistry, logger: Logger,
                                               onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
    let app = buildApplication(engine: engine, configuration: configuration, registry: registry, logger: logger,
                               onServerRunning: onServerRunning)
    var groupConfiguration = ServiceGroupConfiguration(
        services: [.init(service: EngineService(engine: engine, drainSeconds: configuration.drainSeconds)), .init(service: app)],
        gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    groupConfiguration.maximumGracefulShutdownDuration = .seconds(configuration.drainSeconds + 5)
    try await ServiceGroup(configuration: groupConfiguration).run()
}

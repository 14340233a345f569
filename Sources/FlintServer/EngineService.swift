import ServiceLifecycle

/// Runs alongside the HTTP server: when graceful shutdown starts (after the server has
/// stopped accepting and drained), lets the engine finish what it holds, then stops it.
struct EngineService<Engine: InferenceEngine>: Service {
    let engine: Engine
    let drainSeconds: Double

    func run() async throws {
        try? await gracefulShutdown()
        await engine.shutdown(gracePeriod: drainSeconds)
    }
}

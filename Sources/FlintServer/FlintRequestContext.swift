import Hummingbird
import NIOCore

/// The request context of every route. Bodies are read by the controllers themselves,
/// with the server's own size limit.
public struct FlintRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connection the request came on.
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The connection's ConnectionWatch, where the server installed one.
    func connectionWatch() async -> ConnectionWatch? {
        try? await channel.pipeline.handler(type: ConnectionWatch.self).get()
    }

    /// Runs a generation handler so that it is cancelled (and with it the engine request)
    /// when the client goes away (ConnectionWatch): a non-streaming request would otherwise
    /// compute its whole answer for nobody. (Streaming responses notice at their next write.)
    /// The connection stays open for the client's next request. `enabled` is off only in
    /// in-process router tests, whose test channel has no pipeline to ask.
    func cancellingWhenClientLeaves<T: Sendable>(enabled: Bool, _ handler: @escaping @Sendable () async throws -> T) async throws -> T {
        guard enabled, let watch = await connectionWatch() else { return try await handler() }
        return try await watch.cancellingWhenClientLeaves(handler)
    }
}

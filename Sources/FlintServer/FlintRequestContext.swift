import Hummingbird
import NIOCore

/// The request context of every route. Bodies are read by the controllers themselves,
/// with the server's own size limit.
public struct FlintRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connection the request came on (nil for requests without one, as in-process
    /// router tests make).
    let channel: (any Channel)?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The connection's ConnectionWatch, where the server installed one.
    func connectionWatch() async -> ConnectionWatch? {
        guard let channel else { return nil }
        return try? await channel.pipeline.handler(type: ConnectionWatch.self).get()
    }
}

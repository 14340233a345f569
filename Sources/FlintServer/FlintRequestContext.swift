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
}

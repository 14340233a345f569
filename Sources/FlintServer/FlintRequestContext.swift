import Hummingbird

/// The request context of every route. Bodies are read by the controllers themselves,
/// with the server's own size limit.
public struct FlintRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage

    public init(source: Source) {
        coreContext = .init(source: source)
    }
}

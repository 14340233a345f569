import Foundation
import Metrics
import NIOCore

/// One per HTTP connection, in its channel pipeline: counts accepted connections
/// (`flint:http_connections_total`) and tells the requests running on the connection when its
/// client goes away — the input closed (the server allows remote half-closure, so a client's
/// close arrives as `inputClosed` first) or the connection gone — so that a generation is
/// cancelled without reading the inbound stream for it. (Hummingbird's
/// `consumeWithCancellationOnInboundClose` does read it, and then has to close every connection
/// after its response, which a pooled keep-alive client races.)
final class ConnectionWatch: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = NIOAny  // passed on untouched (the default channelRead)

    private static let accepted = Counter(label: "flint:http_connections_total")
    private let lock = NSLock()
    private var closed = false
    private var nextToken = 0
    private var onClose: [Int: @Sendable () -> Void] = [:]

    func handlerAdded(context: ChannelHandlerContext) {
        Self.accepted.increment()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { clientWentAway() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        clientWentAway()
        context.fireChannelInactive()
    }

    /// Runs `operation`, cancelled when the client goes away (at once if it already has).
    func cancellingWhenClientLeaves<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task { try await operation() }
        let token: Int? = lock.withLock {
            if closed { return nil }
            nextToken += 1
            onClose[nextToken] = { task.cancel() }
            return nextToken
        }
        if token == nil { task.cancel() }
        defer { if let token { lock.withLock { _ = onClose.removeValue(forKey: token) } } }
        return try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
    }

    private func clientWentAway() {
        let callbacks: [@Sendable () -> Void] = lock.withLock {
            closed = true
            defer { onClose.removeAll() }
            return Array(onClose.values)
        }
        for cancel in callbacks { cancel() }
    }
}

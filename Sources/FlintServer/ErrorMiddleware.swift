import Hummingbird
import Logging

/// Turns every error into OpenAI's error shape: `APIError`s as they are, Hummingbird's
/// `HTTPError`s (unknown route, wrong method, body too large) with their status, anything
/// else as a logged 500.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = FlintRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as APIError {
            return try e.response(from: request, context: context)
        } catch let e as HTTPError {
            let type = e.status.code >= 500 ? "server_error" : "invalid_request_error"
            let message = e.body ?? (e.status == .notFound ? "No route for \(request.method) \(request.uri.path)" : e.status.reasonPhrase)
            return try APIError(status: e.status, message: message, type: type).response(from: request, context: context)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            context.logger.error("internal error on \(request.method) \(request.uri.path): \(error)")
            return try APIError.internalError("Internal error: \(error)").response(from: request, context: context)
        }
    }
}

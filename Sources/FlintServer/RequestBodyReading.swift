import Hummingbird
import NIOCore

/// Reading a request body under the server's size limit: too large is a 413, a body that
/// cannot be read (a client that closes before sending what it announced) a 400.
extension RequestBody {
    func collect(limit: Int) async throws -> ByteBuffer {
        do { return try await collect(upTo: limit) } catch is NIOTooManyBytesError {
            throw APIError.bodyTooLarge(limit: limit)
        } catch let e as HTTPError where e.status == .contentTooLarge {
            throw APIError.bodyTooLarge(limit: limit)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw APIError.invalid("The request body could not be read: \(error)")
        }
    }

    /// The body as a JSON object's fields.
    func fields(limit: Int) async throws -> RequestFields {
        try RequestFields(body: Array(try await collect(limit: limit).readableBytesView))
    }
}

extension APIError {
    static func bodyTooLarge(limit: Int) -> APIError {
        APIError(status: .contentTooLarge, message: "The request body is larger than \(limit) bytes",
                 type: "invalid_request_error", code: "request_too_large")
    }
}

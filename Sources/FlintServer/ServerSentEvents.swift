import Foundation
import Hummingbird
import NIOCore

/// Streamed responses as OpenAI sends them: `data: <json>\n\n` per event, `data: [DONE]` last.
enum ServerSentEvents {
    static func event(_ value: some Encodable) throws -> ByteBuffer {
        var buffer = ByteBuffer(string: "data: ")
        buffer.writeBytes(try JSONEncoder().encode(value))
        buffer.writeString("\n\n")
        return buffer
    }

    static let done = ByteBuffer(string: "data: [DONE]\n\n")

    /// A 200 event stream: what `write` writes, then `[DONE]`.
    static func response(_ write: @escaping @Sendable (inout any ResponseBodyWriter) async throws -> Void) -> Response {
        Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                 body: ResponseBody { writer in
                     try await write(&writer)
                     try await writer.write(done)
                     try await writer.finish(nil)
                 })
    }
}

import Foundation
import Hummingbird

/// An error in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, with its
/// HTTP status (and headers such as Retry-After).
public struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?
    public var headers: HTTPFields = [:]

    public init(status: HTTPResponse.Status, message: String, type: String, param: String? = nil, code: String? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
    }

    public var description: String { "\(status.code) \(type): \(message)" }

    /// 400: the request is malformed or a parameter is invalid (named by `param`).
    public static func invalid(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: code)
    }

    public static func unauthorized(_ message: String) -> APIError {
        APIError(status: .unauthorized, message: message, type: "authentication_error", code: "invalid_api_key")
    }

    public static func modelNotFound(_ model: String) -> APIError {
        APIError(status: .notFound, message: "The model '\(model)' does not exist", type: "invalid_request_error",
                 param: "model", code: "model_not_found")
    }

    public static func notFound(_ message: String) -> APIError {
        APIError(status: .notFound, message: message, type: "invalid_request_error", code: "not_found")
    }

    public static func overloaded(_ message: String) -> APIError {
        var e = APIError(status: .tooManyRequests, message: message, type: "rate_limit_error", code: "server_overloaded")
        e.headers[.retryAfter] = "1"
        return e
    }

    public static func internalError(_ message: String) -> APIError {
        APIError(status: .internalServerError, message: message, type: "server_error", code: "internal_error")
    }

    struct Body: Encodable {
        struct Inner: Encodable {
            let message: String
            let type: String
            let param: String?
            let code: String?

            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(message, forKey: .message)
                try c.encode(type, forKey: .type)
                try c.encode(param, forKey: .param)
                try c.encode(code, forKey: .code)
            }
            enum CodingKeys: String, CodingKey { case message, type, param, code }
        }
        let error: Inner
    }

    public var jsonBody: ByteBuffer {
        let data = (try? JSONEncoder().encode(Body(error: .init(message: message, type: type, param: param, code: code)))) ?? Data("{}".utf8)
        return ByteBuffer(bytes: data)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: jsonBody))
    }
}

import Hummingbird

/// When keys are configured, every /v1 route needs `Authorization: Bearer <key>`.
struct APIKeyMiddleware: RouterMiddleware {
    typealias Context = FlintRequestContext
    let keys: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !keys.isEmpty, request.uri.path.hasPrefix("/v1/") || request.uri.path == "/v1" else {
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization] else {
            throw APIError.unauthorized("Missing API key: send 'Authorization: Bearer <key>'")
        }
        let prefix = "Bearer "
        guard header.hasPrefix(prefix), Self.contains(keys, String(header.dropFirst(prefix.count))) else {
            throw APIError.unauthorized("Incorrect API key provided")
        }
        return try await next(request, context)
    }

    /// Compares against every key in full, so timing does not reveal a matching prefix.
    static func contains(_ keys: Set<String>, _ candidate: String) -> Bool {
        let c = Array(candidate.utf8)
        var found = false
        for key in keys {
            let k = Array(key.utf8)
            var diff = k.count ^ c.count
            for i in 0..<k.count { diff |= Int(k[i] ^ (i < c.count ? c[i] : 0)) }
            if diff == 0 { found = true }
        }
        return found
    }
}

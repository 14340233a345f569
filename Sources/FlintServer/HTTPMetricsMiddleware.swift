import Dispatch
import Hummingbird
import Metrics

/// Counts requests and records their latency by route, method and status
/// (`flint:http_requests_total`, `flint:http_request_duration_seconds`). Unmatched paths
/// share one route label, so random URLs cannot grow the label set.
struct HTTPMetricsMiddleware: RouterMiddleware {
    typealias Context = FlintRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let response = try await next(request, context)
        let route = context.endpointPath ?? "unmatched"
        let method = request.method.rawValue
        Counter(label: "flint:http_requests_total",
                dimensions: [("method", method), ("route", route), ("status", String(response.status.code))]).increment()
        Metrics.Timer(label: "flint:http_request_duration_seconds", dimensions: [("method", method), ("route", route)])
            .recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start))
        return response
    }
}

import FlintEngine
import Foundation
import Hummingbird
import NIOCore

/// POST /v1/adapters (multipart upload of PEFT files, or JSON `{"name", "path"}` for a
/// folder on the server), GET /v1/adapters, DELETE /v1/adapters/{name}.
struct AdaptersController<Engine: InferenceEngine>: Sendable {
    let engine: Engine
    let maxUploadBytes: Int

    func addRoutes(to router: Router<FlintRequestContext>) {
        router.post("/v1/adapters") { request, _ in EditedResponse(status: .created, response: try await create(request)) }
        router.get("/v1/adapters") { _, _ in
            let registry = try registry()
            return AdapterListBody(data: registry.list().map { body($0) })
        }
        router.delete("/v1/adapters/:name") { _, context in
            let name = context.parameters.get("name") ?? ""
            do { try registry().remove(name: name) } catch let e as LoRARegistryError { throw APIError.adapter(e) }
            return AdapterDeletedBody(id: name, deleted: true)
        }
    }

    private func registry() throws(APIError) -> LoRARegistry {
        guard let r = engine.adapters else { throw APIError.notFound("Adapters are not enabled on this server") }
        return r
    }

    private func create(_ request: Request) async throws -> AdapterBody {
        let registry = try registry()
        let buffer = try await request.body.collect(limit: maxUploadBytes)
        let info: LoRARegistry.Info
        do {
            if let boundary = request.headers[.contentType].flatMap(MultipartForm.boundary(contentType:)) {
                let form: MultipartForm
                do { form = try MultipartForm(body: buffer, boundary: boundary) } catch {
                    throw APIError.invalid("The multipart body is malformed: \(error)")
                }
                guard let namePart = form.parts.first(where: { $0.name == "name" && $0.filename == nil }),
                      let name = String(data: namePart.data, encoding: .utf8) else {
                    throw APIError.invalid("The form field 'name' is required", param: "name")
                }
                var files: [String: Data] = [:]
                for part in form.parts where part.filename != nil {
                    // The file's own name says what it is; a client path before it is ignored.
                    let file = part.filename!.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
                    guard files[file] == nil else { throw APIError.invalid("The file '\(file)' is uploaded twice") }
                    files[file] = part.data
                }
                info = try registry.add(name: name, files: files)
            } else {
                let f = try RequestFields(body: Array(buffer.readableBytesView))
                guard let name = try f.string("name") else { throw APIError.invalid("'name' is required", param: "name") }
                guard let path = try f.string("path") else {
                    throw APIError.invalid("'path' is required (or upload the files as multipart/form-data)", param: "path")
                }
                info = try registry.add(name: name, from: path)
            }
        } catch let e as LoRARegistryError {
            throw APIError.adapter(e)
        }
        return body(info)
    }

    private func body(_ info: LoRARegistry.Info) -> AdapterBody {
        AdapterBody(id: "\(engine.modelName):\(info.name)", name: info.name, parent: engine.modelName, created: info.created,
                    rank: info.rank, lora_alpha: info.alpha, target_modules: info.targets, loaded: info.loaded)
    }
}

struct AdapterBody: ResponseEncodable {
    let id: String
    var object = "adapter"
    let name: String
    let parent: String
    let created: Int
    let rank: Int
    let lora_alpha: Float
    let target_modules: [String]
    let loaded: Bool
}

struct AdapterListBody: ResponseEncodable {
    var object = "list"
    let data: [AdapterBody]
}

struct AdapterDeletedBody: ResponseEncodable {
    let id: String
    var object = "adapter"
    let deleted: Bool
}

extension APIError {
    /// The HTTP form of an adapter registry error.
    static func adapter(_ e: LoRARegistryError) -> APIError {
        switch e {
        case .invalidName: return APIError.invalid(e.description, param: "name")
        case .alreadyExists: return APIError(status: .conflict, message: e.description, type: "invalid_request_error",
                                             param: "name", code: "adapter_exists")
        case .notFound: return APIError.notFound("The adapter does not exist: \(e.description)")
        case .invalidAdapter: return APIError.invalid(e.description, code: "invalid_adapter")
        case .busy: return APIError.overloaded(e.description)
        case .io: return APIError.internalError(e.description)
        }
    }
}

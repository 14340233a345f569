import Hummingbird

/// GET /v1/models and /v1/models/{id} (ids may contain slashes: accounts/<a>/models/<m>).
struct ModelsController<Engine: InferenceEngine>: Sendable {
    let engine: Engine

    func addRoutes(to router: Router<FlintRequestContext>) {
        router.get("/v1/models") { _, _ in
            try ControllerSupport.json(ModelListBody(data: [body(id: engine.modelName)]))
        }
        router.get("/v1/models/**") { _, context in
            let id = context.parameters.getCatchAll().joined(separator: "/")
            guard ControllerSupport.matches(id, model: engine.modelName) else { throw APIError.modelNotFound(id) }
            return try ControllerSupport.json(body(id: id))
        }
    }

    private func body(id: String) -> ModelBody {
        ModelBody(id: id, created: engine.created, root: engine.modelName, parent: nil, max_model_len: engine.maxModelLength)
    }
}

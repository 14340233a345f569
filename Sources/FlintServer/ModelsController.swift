import Hummingbird

/// GET /v1/models and /v1/models/{id} (ids may contain slashes: accounts/<a>/models/<m>);
/// adapters are listed as `<base>:<adapter>` with the base as parent.
struct ModelsController<Engine: InferenceEngine>: Sendable {
    let engine: Engine

    func addRoutes(to router: Router<FlintRequestContext>) {
        router.get("/v1/models") { _, _ in
            let adapters = engine.adapters?.list().map { body(id: "\(engine.modelName):\($0.name)", parent: engine.modelName, created: $0.created) }
            return ModelListBody(data: [body(id: engine.modelName)] + (adapters ?? []))
        }
        router.get("/v1/models/**") { _, context in
            let id = context.parameters.getCatchAll().joined(separator: "/")
            guard let adapter = try ModelResolution.adapterName(id, engine: engine) else { return body(id: id) }
            let created = engine.adapters?.info(adapter)?.created ?? engine.created
            return body(id: id, parent: engine.modelName, created: created)
        }
    }

    private func body(id: String, parent: String? = nil, created: Int? = nil) -> ModelBody {
        ModelBody(id: id, created: created ?? engine.created, root: engine.modelName, parent: parent, max_model_len: engine.maxModelLength)
    }
}

import Metrics

/// The engine's swift-metrics instruments (names as vLLM's, prefixed `flint:`). Without a
/// bootstrapped backend these are no-ops; the server bootstraps Prometheus.
struct EngineMetrics {
    let running = Gauge(label: "flint:num_requests_running")
    let waiting = Gauge(label: "flint:num_requests_waiting")
    let blocksUsed = Gauge(label: "flint:kv_cache_blocks_used")
    let blocksTotal = Gauge(label: "flint:kv_cache_blocks_total")
    let blocksCached = Gauge(label: "flint:kv_cache_blocks_cached")
    let prefixQueries = Counter(label: "flint:prefix_cache_queries_total")
    let prefixHits = Counter(label: "flint:prefix_cache_hits_total")
    let promptTokens = Counter(label: "flint:prompt_tokens_total")
    let generatedTokens = Counter(label: "flint:generation_tokens_total")
    let preemptions = Counter(label: "flint:num_preemptions_total")
    let timeToFirstToken = Metrics.Timer(label: "flint:time_to_first_token_seconds")
    let interTokenLatency = Metrics.Timer(label: "flint:inter_token_latency_seconds")
    let stepDuration = Metrics.Timer(label: "flint:step_duration_seconds")
    /// Tokens and sequences per forward pass.
    let batchTokens = Recorder(label: "flint:batch_tokens")
    let batchSequences = Recorder(label: "flint:batch_sequences")

    private let finishedByReason: [FinishReason: Counter] = Dictionary(uniqueKeysWithValues:
        [FinishReason.stop, .length, .cancelled, .error].map {
            ($0, Counter(label: "flint:request_success_total", dimensions: [("finished_reason", $0.rawValue)]))
        })

    func finished(_ reason: FinishReason) { finishedByReason[reason]?.increment() }

    /// Where a speculating sequence's proposals came from.
    enum Proposer: Int, CaseIterable {
        case prediction, ngram, draft
        var label: String { ["prediction", "ngram", "draft"][rawValue] }
    }

    /// Speculation per proposer, with vLLM's names: tokens proposed and verified, and how
    /// many of them were accepted.
    private let proposedTokens = Proposer.allCases.map {
        Counter(label: "flint:spec_decode_num_draft_tokens_total", dimensions: [("proposer", $0.label)])
    }
    private let acceptedTokens = Proposer.allCases.map {
        Counter(label: "flint:spec_decode_num_accepted_tokens_total", dimensions: [("proposer", $0.label)])
    }

    func speculated(_ proposer: Proposer, proposed: Int, accepted: Int) {
        proposedTokens[proposer.rawValue].increment(by: proposed)
        acceptedTokens[proposer.rawValue].increment(by: accepted)
    }
}

import FlintJinja

/// Why a chat template could not be used.
public enum ChatTemplateError: Error, Sendable, CustomStringConvertible {
    /// The template source does not parse.
    case invalidTemplate(JinjaError)
    /// The template itself rejected the conversation via `raise_exception(message)`
    /// (e.g. "Conversation roles must alternate"): a client error.
    case rejected(message: String)
    /// Rendering failed for another reason (type error, undefined value, limit, ...).
    case renderFailed(JinjaError)

    public var description: String {
        switch self {
        case .invalidTemplate(let e): return "Invalid chat template: \(e)"
        case .rejected(let message): return "Chat template rejected the conversation: \(message)"
        case .renderFailed(let e): return "Chat template rendering failed: \(e)"
        }
    }
}

/// A model's chat template (GGUF `tokenizer.chat_template`), rendered the way
/// Hugging Face `apply_chat_template` does.
public struct ChatTemplate: Sendable {
    public let source: String
    public let bosToken: String
    public let eosToken: String
    private let template: Template

    public init(source: String, bosToken: String = "", eosToken: String = "") throws(ChatTemplateError) {
        self.source = source
        self.bosToken = bosToken
        self.eosToken = eosToken
        do {
            self.template = try Template(source)
        } catch let e as JinjaError {
            throw .invalidTemplate(e)
        } catch {
            throw .invalidTemplate(.runtime(message: "\(error)"))
        }
    }

    /// ChatML, used when a model ships no `tokenizer.chat_template`.
    public static let chatMLSource = """
        {%- for message in messages %}
        {{- '<|im_start|>' + message['role'] + '\\n' + (message['content'] if message['content'] is string else '') + '<|im_end|>' + '\\n' }}
        {%- endfor %}
        {%- if add_generation_prompt %}
        {{- '<|im_start|>assistant\\n' }}
        {%- endif %}
        """

    /// The ChatML fallback template.
    public static let chatML: ChatTemplate = {
        do {
            return try ChatTemplate(source: chatMLSource)
        } catch {
            preconditionFailure("built-in ChatML template must parse: \(error)")
        }
    }()

    /// The ChatML fallback with the model's special tokens.
    public static func chatML(bosToken: String, eosToken: String) -> ChatTemplate {
        (try? ChatTemplate(source: chatMLSource, bosToken: bosToken, eosToken: eosToken)) ?? chatML
    }

    /// Renders the conversation. Context: `messages`, `tools` (None when
    /// absent), `documents` (None), `add_generation_prompt`, `bos_token`,
    /// `eos_token`, then `extraContext` (which may override any of them).
    public func render(messages: [ChatMessage], tools: [JinjaValue]? = nil, addGenerationPrompt: Bool = true,
                       extraContext: [String: JinjaValue] = [:]) throws(ChatTemplateError) -> String {
        var context: [String: JinjaValue] = [
            "messages": .array(messages.map(\.jinjaValue)),
            "tools": tools.map { JinjaValue.array($0) } ?? JinjaValue.none,
            "documents": .none,
            "add_generation_prompt": .bool(addGenerationPrompt),
            "bos_token": .string(bosToken),
            "eos_token": .string(eosToken),
        ]
        for (k, v) in extraContext { context[k] = v }
        do {
            return try template.render(context)
        } catch let e as JinjaError {
            if case .raised(let message) = e { throw .rejected(message: message) }
            throw .renderFailed(e)
        } catch {
            throw .renderFailed(.runtime(message: "\(error)"))
        }
    }
}

import FlintJinja
import FlintLoading
import FlintModels
import FlintTokenizers

/// Everything loaded from one GGUF file: weights, tokenizer and chat template.
public final class LoadedModel: Sendable {
    public let path: String
    public let gguf: GGUFFile
    public let model: any CausalLM
    public let tokenizer: Tokenizer
    public let chatTemplate: ChatTemplate
    /// Whether `chatTemplate` came from the file (false: a built-in fallback).
    public let hasOwnChatTemplate: Bool

    /// Gemma's turn format, used for Gemma models whose file carries no template.
    static let gemmaTurnsSource = """
        {{- bos_token }}
        {%- for message in messages %}
        {%- set role = 'model' if message['role'] == 'assistant' else 'user' %}
        {{- '<start_of_turn>' + role + '\\n' + (message['content'] if message['content'] is string else '') | trim + '<end_of_turn>\\n' }}
        {%- endfor %}
        {%- if add_generation_prompt %}{{- '<start_of_turn>model\\n' }}{%- endif %}
        """

    public init(path: String) throws {
        self.path = path
        gguf = try GGUFFile(path: path)
        model = try ModelRegistry.load(gguf)
        let tokenizer = try Tokenizer(gguf: gguf)
        self.tokenizer = tokenizer
        let bos = tokenizer.bosID.flatMap { tokenizer.tokenText($0) } ?? ""
        let eos = tokenizer.eosID.flatMap { tokenizer.tokenText($0) } ?? ""
        if let source = gguf.metadata["tokenizer.chat_template"]?.stringValue {
            chatTemplate = try ChatTemplate(source: source, bosToken: bos, eosToken: eos)
            hasOwnChatTemplate = true
        } else if tokenizer.id(forTokenText: "<start_of_turn>") != nil {
            chatTemplate = try ChatTemplate(source: Self.gemmaTurnsSource, bosToken: bos, eosToken: eos)
            hasOwnChatTemplate = false
        } else {
            chatTemplate = ChatTemplate.chatML(bosToken: bos, eosToken: eos)
            hasOwnChatTemplate = false
        }
    }

    /// Why `draft` cannot propose tokens for this model, or nil when it can: proposals are
    /// token ids, so the two must have the same vocabulary, token for token, and the same
    /// end-of-generation tokens.
    public func draftMismatch(_ draft: LoadedModel) -> String? {
        let a = tokenizer, b = draft.tokenizer
        guard a.vocabularySize == b.vocabularySize, model.config.vocabularySize == draft.model.config.vocabularySize else {
            return "its vocabulary has \(b.vocabularySize) tokens (\(draft.model.config.vocabularySize) logits), the model's \(a.vocabularySize) (\(model.config.vocabularySize))"
        }
        if let id = (0..<Int32(a.vocabularySize)).first(where: { a.tokenBytes($0) != b.tokenBytes($0) || a.tokenType($0) != b.tokenType($0) }) {
            return "token \(id) is \(String(decoding: b.tokenBytes(id), as: UTF8.self).debugDescription) in it but \(String(decoding: a.tokenBytes(id), as: UTF8.self).debugDescription) in the model"
        }
        guard a.endOfGenerationIDs == b.endOfGenerationIDs, a.bosID == b.bosID else {
            return "its special tokens (beginning and end of generation) differ from the model's"
        }
        return nil
    }

    /// KV cache bytes per token of context (keys and values of every layer) stored as `type`,
    /// to size an engine's pool for a known context (`EngineConfiguration.kvCacheBytes`).
    public func kvBytesPerToken(_ type: KVCacheType) -> Int { KVCache.bytesPerToken(config: model.shape, type: type) }

    /// Tokenizes text as a raw prompt: BOS per the file's metadata, special-token text
    /// left as text.
    public func encodeRaw(_ text: String) -> [Int32] {
        tokenizer.encode(text, addSpecial: true, parseSpecial: false)
    }

    /// Renders a conversation through the chat template and tokenizes it, parsing the
    /// template's special tokens. BOS is added per the metadata unless the template
    /// already wrote it.
    public func encodeChat(_ messages: [ChatMessage], tools: [JinjaValue]? = nil,
                           addGenerationPrompt: Bool = true) throws -> [Int32] {
        let text = try chatTemplate.render(messages: messages, tools: tools, addGenerationPrompt: addGenerationPrompt)
        let bosText = chatTemplate.bosToken
        let templateWroteBOS = !bosText.isEmpty && text.hasPrefix(bosText)
        return tokenizer.encode(text, addSpecial: !templateWroteBOS, parseSpecial: true)
    }
}

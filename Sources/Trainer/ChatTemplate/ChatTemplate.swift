import JSONKit

/// One turn of a conversation: `{"role": ..., "content": ...}` and whatever else the row holds
/// (a template may read `tool_calls` or `name`), kept as JSON.
public struct ChatMessage: Equatable, Sendable {
    public var role: String
    public var content: String
    public var fields: JSONValue
    public init(role: String, content: String) {
        self.role = role
        self.content = content
        fields = .object([("role", .string(role)), ("content", .string(content))])
    }
    /// A message object read from a data row (`role` and `content` strings required).
    public init?(json: JSONValue) {
        guard case .string(let role)? = json["role"], case .string(let content)? = json["content"] else { return nil }
        self.role = role
        self.content = content
        fields = json
    }
}

/// A model's chat template (the Jinja source in `tokenizer.chat_template` of a GGUF file, or
/// `chat_template` in `tokenizer_config.json`), rendered as transformers' `apply_chat_template`
/// renders it: Jinja2 with `trim_blocks` and `lstrip_blocks`, the globals `raise_exception` and
/// `strftime_now`, `tojson` as Python's `json.dumps(ensure_ascii=False)`.
///
/// The subset covers what the chat templates of Llama 3, SmolLM2, Qwen2, Mistral and Gemma use:
/// `if`/`elif`/`else`, `for` (with `loop`, an `if` filter, `else`), `set` (also on a `namespace`),
/// `break`/`continue`, `generation` blocks, filters, tests, string and dict methods, slices.
/// Anything else (macros, `include`, `call` …) is refused when the template is read, naming it.
public struct ChatTemplate: Sendable {
    public let source: String
    let body: [TemplateNode]

    public init(_ source: String) throws(TemplateError) {
        self.source = source
        var parser = try TemplateParser(source: source)
        body = try parser.parseDocument()
    }

    /// The conversation as the model sees it. `addGenerationPrompt` asks for the assistant's
    /// opening so that generation continues from there.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool, bosToken: String = "",
                       eosToken: String = "") throws(TemplateError) -> String {
        let context: [String: TemplateValue] = [
            "messages": .list(messages.map { TemplateValue(json: $0.fields) }),
            "add_generation_prompt": .bool(addGenerationPrompt),
            "bos_token": .string(bosToken), "eos_token": .string(eosToken),
        ]
        var interpreter = TemplateInterpreter(globals: context)
        return try interpreter.render(body)
    }
}

/// Why a template could not be read or rendered; `raise_exception` in a template gives its message.
public struct TemplateError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "chat template: " + message }
}

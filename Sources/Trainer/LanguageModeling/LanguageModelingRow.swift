import JSONKit
import Foundation
import Space

/// How a causal-LM task is scored (its metrics: `LanguageModelingMetrics`).
public struct LanguageModelingSettings: Equatable, Sendable {
    /// Tokens greedy decoding may add for exact match and `predict`; 0 computes no exact match.
    public var maxNewTokens: Int
    public init(maxNewTokens: Int = 32) { self.maxNewTokens = maxNewTokens }
}

/// A causal-LM row: a prompt and its response (the loss counts the response and EOS), or a
/// conversation whose assistant turns the loss counts, rendered with the model's chat template.
/// Unlabelled (for `predict`): a prompt without response, or a conversation not ending with the
/// assistant.
public enum LanguageModelingRow: Equatable, Sendable {
    case completion(prompt: String, response: String?)
    case conversation([ChatMessage])

    /// What exact match compares a generation with: the response, or the last assistant turn
    /// when the conversation ends with one.
    public var reference: String? {
        switch self {
        case .completion(_, let response): return response
        case .conversation(let m): return m.last?.role == "assistant" ? m.last?.content : nil
        }
    }
}

extension DatasetReader {
    /// JSONL rows `{"prompt": …, "response": …}` or `{"messages": [{"role", "content"}, …]}`.
    /// Errors name the file and line: invalid JSON, a missing or non-string field, a conversation
    /// with no assistant turn where responses are required.
    static func languageModelingRows(_ text: String, path: String, requireResponses: Bool) throws(TrainerError) -> [Example] {
        var out: [Example] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            func fail(_ message: String) -> TrainerError { .data(path: path, line: i + 1, message: message) }
            let v: JSONValue
            do { v = try JSONParser.parse(line) } catch { throw fail("invalid JSON: \(error.message)") }
            if let messages = v["messages"] {
                guard case .array(let items) = messages, !items.isEmpty else { throw fail("\"messages\" must be a non-empty array") }
                var turns: [ChatMessage] = []
                for (k, item) in items.enumerated() {
                    guard let m = ChatMessage(json: item) else {
                        throw fail("messages[\(k)] must be an object with string fields \"role\" and \"content\"")
                    }
                    turns.append(m)
                }
                if requireResponses && !turns.contains(where: { $0.role == "assistant" }) {
                    throw fail("a conversation with no \"assistant\" turn has nothing to learn")
                }
                out.append(Example(textA: "", label: .sequence(.conversation(turns))))
                continue
            }
            guard case .string(let prompt)? = v["prompt"] else {
                throw fail("expected a string field \"prompt\" (with \"response\"), or \"messages\"")
            }
            var response: String?
            switch v["response"] {
            case .string(let r)?: response = r
            case nil where !requireResponses: response = nil
            default: throw fail("expected a string field \"response\"")
            }
            out.append(Example(textA: prompt, label: .sequence(.completion(prompt: prompt, response: response))))
        }
        return out
    }
}

import JSONKit
import XCTest
import TestSupport
@testable import Trainer

/// The chat-template renderer against transformers' (Jinja2 with trim_blocks and lstrip_blocks) on
/// the fixture made by tools/make_chat_template_fixture.py: SmolLM2's own template and templates in
/// the styles of Llama 3, Qwen2.5, Mistral and Gemma, six conversations, with and without the
/// generation prompt; `raise_exception` gives the same message.
final class ChatTemplateTests: XCTestCase {
    func testRendersAsTransformersDoes() throws {
        let root = try JSONParser.parse(String(contentsOfFile: Repo.fixtures + "/chat_template/cases.json", encoding: .utf8))
        guard case .array(let conversations)? = root["conversations"], case .array(let cases)? = root["cases"] else {
            return XCTFail("the fixture has no cases")
        }
        var templates: [String: ChatTemplate] = [:]
        if case .object(let members)? = root["templates"] {
            for (name, source) in members { templates[name] = try ChatTemplate(source.plainText) }
        }
        XCTAssertGreaterThanOrEqual(templates.count, 5)
        var checked = 0
        for c in cases {
            guard case .string(let name)? = c["template"], let template = templates[name],
                  case .number(let k, _)? = c["conversation"], case .bool(let gen)? = c["add_generation_prompt"],
                  case .array(let rows) = conversations[Int(k)] else { return XCTFail("a malformed case") }
            let messages = rows.compactMap(ChatMessage.init(json:))
            XCTAssertEqual(messages.count, rows.count)
            let label = "\(name), conversation \(Int(k)), generation prompt \(gen)"
            let outcome: Result<String, TemplateError>
            do { outcome = .success(try template.render(messages, addGenerationPrompt: gen, bosToken: "<s>", eosToken: "</s>")) } catch {
                outcome = .failure(error)
            }
            switch outcome {
            case .success(let text):
                XCTAssertEqual(text, c["rendered"]?.plainText, label)
                XCTAssertNil(c["error"], label + ": transformers raised")
            case .failure(let e):
                XCTAssertEqual(e.message, c["error"]?.plainText, label)
            }
            checked += 1
        }
        XCTAssertEqual(checked, 72)
    }

    /// A Hugging Face folder's chat template, BOS and EOS come from `tokenizer_config.json` (a string
    /// or {"content"}; a list of named templates gives "default"), or from `chat_template.jinja`; the
    /// BOS ids are what the tokenizer's own template puts before one text (Llama 3's, none for SmolLM).
    func testAFoldersChatTemplateAndSpecialTokensAreRead() throws {
        let template = "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{{ eos_token }}{% endfor %}"
        for (family, config, bos) in [
            ("smollm", #"{"eos_token": "<|im_end|>", "bos_token": {"content": "<|im_start|>"}, "chat_template": [{"name": "default", "template": "TEMPLATE"}, {"name": "tool_use", "template": "x"}]}"#, [Int32]()),
            ("llama3", #"{"eos_token": "<|end_of_text|>", "bos_token": "<|begin_of_text|>"}"#, [Int32(0)]),
        ] {
            let dir = scratchDirectory("chat-folder-\(family)")
            try FileManager.default.copyItem(atPath: Repo.fixtures + "/bpe/\(family)/tokenizer.json", toPath: dir + "/tokenizer.json")
            try config.replacingOccurrences(of: "TEMPLATE", with: template.replacingOccurrences(of: "\"", with: "\\\""))
                .write(toFile: dir + "/tokenizer_config.json", atomically: true, encoding: .utf8)
            if family == "llama3" {
                try template.write(toFile: dir + "/chat_template.jinja", atomically: true, encoding: .utf8)
                try #"{"eos_token_id": [1, 5]}"#.write(toFile: dir + "/generation_config.json", atomically: true, encoding: .utf8)
            }
            let g = try Tokenizers.load(directory: dir).generation
            XCTAssertEqual(g.bosIds, bos, family)
            XCTAssertEqual(g.eosId, family == "smollm" ? 2 : 1, family)
            XCTAssertEqual(g.stopIds, family == "smollm" ? [2] : [1, 5], family)
            let text = try XCTUnwrap(g.chatTemplate, family).render([ChatMessage(role: "user", content: "hi")], addGenerationPrompt: true,
                                                                    bosToken: g.bosToken, eosToken: g.eosToken)
            XCTAssertEqual(text, family == "smollm" ? "<|im_start|><user>hi<|im_end|>" : "<|begin_of_text|><user>hi<|end_of_text|>")
        }
        // A template that cannot be read does not stop the model from loading (classification needs none);
        // rendering a conversation then says why, with the file.
        let dir = scratchDirectory("chat-folder-bad")
        try FileManager.default.copyItem(atPath: Repo.fixtures + "/bpe/smollm/tokenizer.json", toPath: dir + "/tokenizer.json")
        try #"{"chat_template": "{% macro x() %}{% endmacro %}"}"#.write(toFile: dir + "/tokenizer_config.json", atomically: true,
                                                                       encoding: .utf8)
        let tokenizer = try Tokenizers.load(directory: dir)
        XCTAssertNil(tokenizer.generation.chatTemplate)
        let conversation = Example(textA: "", label: .sequence(.conversation([ChatMessage(role: "user", content: "hi"),
                                                                             ChatMessage(role: "assistant", content: "yo")])))
        XCTAssertThrowsError(try LanguageModelingEncoder(tokenizer: tokenizer, maxLength: 64).encode(conversation, row: 3)) {
            let text = "\($0)"
            XCTAssertTrue(text.contains("row 3") && text.contains("tokenizer_config.json") && text.contains("macro"), text)
        }
    }

    /// What the renderer does not implement is refused when the template is read, by name.
    func testUnsupportedConstructsAreRefusedByName() {
        for (source, named) in [("{% macro f() %}x{% endmacro %}", "macro"), ("{{ x | wordwrap }}", "wordwrap"),
                                ("{% if x %}open", "endif"), ("{{ 'a' ", "not closed")] {
            do {
                let t = try ChatTemplate(source)
                _ = try t.render([ChatMessage(role: "user", content: "hi")], addGenerationPrompt: false)
                XCTFail("\(source) was accepted")
            } catch {
                XCTAssertTrue("\(error)".contains(named), "\(source): \(error)")
            }
        }
    }
}

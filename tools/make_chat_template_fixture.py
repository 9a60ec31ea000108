"""What transformers' chat-template renderer gives (Jinja2 with trim_blocks and lstrip_blocks, its
raise_exception and tojson): the reference for autopeft's ChatTemplate (issue 40).

    ~/peers-venv/bin/python tools/make_chat_template_fixture.py [GGUF]
        GGUF default: models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf (its template is read from the
        metadata when the file is there)

writes Tests/TrainerTests/Fixtures/chat_template/cases.json: the templates (SmolLM2's own, and templates in the
styles of Llama 3, Qwen2.5, Mistral and Gemma, plus one that exercises the features those use), and for each
template × conversation × add_generation_prompt the rendered text, or the error message raise_exception gives.
"""
import json, os, sys
from transformers.utils.chat_template_utils import _compile_jinja_template

GGUF = sys.argv[1] if len(sys.argv) > 1 else "models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
OUT = "Tests/TrainerTests/Fixtures/chat_template/cases.json"

LLAMA3 = ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
          "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
          "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
          "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")

QWEN = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- for tool_call in message.tool_calls %}
            {{- '\\n<tool_call>\\n{"name": "' }}{{- tool_call.name }}{{- '", "arguments": ' }}{{- tool_call.arguments | tojson }}{{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

MISTRAL = ("{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
           "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
           "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == "
           "'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are "
           "supported!') }}{% endif %}{% endfor %}")

GEMMA = ("{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
         "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception("
         "'Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == "
         "'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + "
         "role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}"
         "{{'<start_of_turn>model\n'}}{% endif %}")

# Whitespace rules without "-" (trim_blocks, lstrip_blocks), comments, namespace, loop variables, slices, filters,
# tests, methods, arithmetic, ternaries, tojson of nested values, "not in", for-else, break.
FEATURES = """{# a comment on its own line #}
{% set ns = namespace(system='', turns=0) %}
{% if messages[0].role == 'system' %}
    {% set ns.system = messages[0].content | trim %}
    {% set rest = messages[1:] %}
{% else %}
    {% set rest = messages %}
{% endif %}
<<{{ ns.system if ns.system else 'no system' }}>>
{% for m in rest if m.role != 'tool' %}
  {% set ns.turns = ns.turns + 1 %}
  [{{ loop.index }}/{{ loop.length }}{{ ' last' if loop.last }}] {{ m.role | upper }}: {{ m.content.strip() }}
  {%- if m.content.startswith('Q') and 'x' not in m.content %} (a question){% endif %}
  {% if m.meta is defined %}meta={{ m.meta | tojson }} keys={{ m.meta.keys() | list | join(',') }}{% endif %}
{% else %}
(no turns)
{% endfor %}
turns: {{ ns.turns }} {{ ns.turns * 2 - 1 }} {{ ns.turns // 2 }} {{ ns.turns % 2 }} {{ (ns.turns / 2) }} {{ rest | length }}
{{ messages[-1]['content'][:5] ~ '|' ~ messages[-1]['content'][::-1][:3] }}
{% for m in messages %}{% if loop.index > 2 %}{% break %}{% endif %}{{ m.role[0] }}{% endfor %}
{{ "x" * 3 }}{{ [1, 2] + [3] }}{{ {'a': 1, 'b': [True, None, 1.5]} | tojson }}{{ 'A,B'.split(',') | tojson }}
{% if add_generation_prompt %}<assistant>{% endif %}"""

CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "  You answer briefly.\n"}, {"role": "user", "content": "Quote x: \"hi\"\tthere"}],
    [{"role": "user", "content": "Question one?"}, {"role": "assistant", "content": " Answer one. "},
     {"role": "user", "content": "Ünïcode ✓ 🙂 and\nnew lines"}],
    [{"role": "user", "content": "Q with meta", "meta": {"lang": "en", "n": 2, "ok": False, "s": "a\u0008b"}},
     {"role": "assistant", "content": "Done."}],
    [{"role": "assistant", "content": "I start."}, {"role": "user", "content": "Odd order"}],
    [{"role": "system", "content": "sys"}, {"role": "user", "content": "call a tool"},
     {"role": "assistant", "content": "", "tool_calls": [{"name": "f", "arguments": {"x": 1, "y": "z"}}]},
     {"role": "tool", "content": "42"}],
]


def smollm2_template():
    if os.path.exists(GGUF):
        from gguf import GGUFReader
        f = GGUFReader(GGUF).fields["tokenizer.chat_template"]
        return bytes(f.parts[f.data[0]]).decode()
    return None


def main():
    templates = {"llama3": LLAMA3, "qwen2.5": QWEN, "mistral": MISTRAL, "gemma": GEMMA, "features": FEATURES}
    smol = smollm2_template()
    if smol:
        templates = {"smollm2": smol, **templates}
    cases = []
    for name, source in templates.items():
        compiled = _compile_jinja_template(source)
        for k, messages in enumerate(CONVERSATIONS):
            for gen in (False, True):
                case = {"template": name, "conversation": k, "add_generation_prompt": gen}
                try:
                    case["rendered"] = compiled.render(messages=messages, add_generation_prompt=gen, bos_token="<s>",
                                                       eos_token="</s>")
                except Exception as e:  # raise_exception's message (transformers wraps it in TemplateError)
                    case["error"] = str(e)
                cases.append(case)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    json.dump({"made_by": "tools/make_chat_template_fixture.py", "templates": templates, "conversations": CONVERSATIONS,
               "bos_token": "<s>", "eos_token": "</s>", "cases": cases}, open(OUT, "w"), ensure_ascii=False, indent=1)
    print(f"{len(cases)} cases, {sum('error' in c for c in cases)} errors")


if __name__ == "__main__":
    main()

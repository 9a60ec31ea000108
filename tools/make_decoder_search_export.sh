#!/usr/bin/env bash
# Makes the export half of the fixture DecoderSearchTests checks (Tests/CLITests/Fixtures/decoder-search/): its
# space.json on decoder-tiny.gguf (tools/make_decoder_search_fixture.py) searched, re-evaluated, exported and loaded
# by HF PEFT as LlamaForSequenceClassification on transformers' dequantized GGUF load
# (tools/make_search_export_fixture.sh says what it writes and which versions it uses).
#   tools/make_decoder_search_export.sh        (run from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."
d=Tests/CLITests/Fixtures/decoder-search
exec tools/make_search_export_fixture.sh "$d" "$d/decoder-tiny.gguf" decoder-tiny.gguf

#!/usr/bin/env bash
# Makes the fixture RobertaSearchTests checks (Tests/CLITests/Fixtures/roberta-search/): its space.json on the tiny
# RoBERTa (Tests/TrainerTests/Fixtures/roberta-tiny) searched, re-evaluated, exported and loaded by HF PEFT
# (tools/make_search_export_fixture.sh says what it writes and which versions it uses).
#   tools/make_roberta_search_fixture.sh        (run from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."
exec tools/make_search_export_fixture.sh Tests/CLITests/Fixtures/roberta-search Tests/TrainerTests/Fixtures/roberta-tiny roberta-tiny

#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seeds: the W3C suite and the project's flows for documents,
# and the inputs the tests and configuration use for the rest (fuzz/seeds/<target>/).
set -euo pipefail
cd "$(dirname "$0")"
W3C=${SCXML_W3C_DIR:-../../shared/w3c-scxml}
for t in document duration event_descriptor target_string skill_expression multi_target form_body bayeux sessions_body config_file; do
  mkdir -p "corpus/$t"
  if [ -d "seeds/$t" ]; then cp -n seeds/$t/* "corpus/$t/" 2>/dev/null || true; fi
done
n=0
while IFS= read -r -d '' f; do
  cp -n "$f" "corpus/document/w3c-$(basename "$f")"; n=$((n+1))
done < <(find "$W3C" \( -name '*.txml' -o -name '*.scxml' \) -print0 2>/dev/null)
for f in ../scxml/*.scxml ../scxml/*/*.scxml ../examples/*.scxml; do
  [ -f "$f" ] && cp -n "$f" "corpus/document/flow-$(basename "$f")"
done
cp -n ../gms.toml corpus/config_file/gms.toml
echo "seeded: $(ls corpus/document | wc -l) documents"

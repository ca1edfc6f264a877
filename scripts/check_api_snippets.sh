#!/usr/bin/env bash
# Checks that every line of docs/API.md's ```cpp snippets still appears in some examples/*.cpp,
# so the API document cannot drift from code that is built and run. Run by `make check-examples`.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=0
checked=0
while IFS= read -r line; do
  text=$(printf '%s' "$line" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')
  [ -z "$text" ] && continue
  checked=$((checked + 1))
  if ! grep -qF -- "$text" examples/*.cpp; then
    echo "check-api-snippets: docs/API.md line not in examples/: $text" >&2
    missing=1
  fi
done < <(awk '/^```cpp/ {inside = 1; next} /^```/ {inside = 0} inside' docs/API.md)
[ "$missing" = 0 ] && echo "check-api-snippets: all $checked snippet lines of docs/API.md are in examples/"
exit "$missing"

#!/usr/bin/env bash
# Runs a list of `nwq quantize` jobs, several at a time, skipping every job whose result is
# already there (so an interrupted matrix resumes where it stopped). Used by `make tables`.
# Usage: scripts/quant_matrix.sh JOBS_FILE OUT_DIR [PARALLEL]
#   JOBS_FILE: one job per line, "NAME nwq-quantize-flags..." (scripts/matrix_jobs.sh writes it).
#   Each job leaves OUT_DIR/NAME.json (the --json summary line), NAME.report.json and NAME.log;
#   the summary is written last (renamed into place), so its presence means "finished".
# Env: NWQ (binary, default build/nwq), DEADLINE (seconds: start no job after that; default none).
set -euo pipefail
jobs_file=$1 out=$2 parallel=${3:-1}
nwq=${NWQ:-build/nwq}
mkdir -p "$out"
start=$(date +%s)
export nwq out start DEADLINE
run_one() {
  local name=$1
  shift
  [ -s "$out/$name.json" ] && return 0
  if [ -n "${DEADLINE:-}" ] && [ $(( $(date +%s) - start )) -ge "$DEADLINE" ]; then
    echo "deadline: not starting $name" >&2
    return 0
  fi
  if "$nwq" quantize "$@" --quiet --json --report "$out/$name.report.json" \
      > "$out/$name.json.tmp" 2> "$out/$name.log"; then
    mv "$out/$name.json.tmp" "$out/$name.json"
    echo "done $name: $(cat "$out/$name.json")" >&2
  else
    echo "FAILED $name (see $out/$name.log): $(tail -n 1 "$out/$name.log")" >&2
    rm -f "$out/$name.json.tmp"
  fi
}
export -f run_one
sed 's/[[:space:]]*$//' "$jobs_file" | grep -v '^\s*\(#\|$\)' | xargs -P "$parallel" -L 1 bash -c 'run_one "$@"' _
echo "finished: $(ls "$out"/*.json 2>/dev/null | grep -vc report) summaries in $out" >&2

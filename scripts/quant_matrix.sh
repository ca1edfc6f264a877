#!/usr/bin/env bash
# Runs a list of `nwq quantize` jobs, several at a time, skipping every job whose result is
# already there (so an interrupted matrix resumes where it stopped). Used by `make tables`.
# Usage: scripts/quant_matrix.sh JOBS_FILE OUT_DIR [PARALLEL]
#   JOBS_FILE: one job per line, "NAME nwq-quantize-flags..." (scripts/matrix_jobs.sh writes it).
#   Each job leaves OUT_DIR/NAME.json (the --json summary line), NAME.report.json and NAME.log;
#   the summary is written last (renamed into place), so its presence means "finished". Each job
#   also keeps its run state in OUT_DIR/NAME.state (nwq quantize --state/--resume, written every
#   CHECKPOINT_EVERY iterations): a job killed part-way continues from there on the next run.
# Env: NWQ (binary, default build/nwq), CHECKPOINT_EVERY (default 1000), DEADLINE (seconds: start no job after that; default none),
#      GPUS (e.g. "1 2 3": job k runs with CUDA_VISIBLE_DEVICES set to the (k mod n)-th of them).
set -euo pipefail
jobs_file=$1 out=$2 parallel=${3:-1}
nwq=${NWQ:-build/nwq}
mkdir -p "$out"
start=$(date +%s)
export nwq out start DEADLINE
run_one() {
  local gpu=$1 name=$2
  shift 2
  [ "$gpu" = - ] || export CUDA_VISIBLE_DEVICES=$gpu
  [ -s "$out/$name.json" ] && return 0
  if [ -n "${DEADLINE:-}" ] && [ $(( $(date +%s) - start )) -ge "$DEADLINE" ]; then
    echo "deadline: not starting $name" >&2
    return 0
  fi
  if "$nwq" quantize "$@" --quiet --json --report "$out/$name.report.json" \
      --state "$out/$name.state" --checkpoint-every "${CHECKPOINT_EVERY:-1000}" --resume \
      > "$out/$name.json.tmp" 2>> "$out/$name.log"; then
    mv "$out/$name.json.tmp" "$out/$name.json"
    rm -f "$out/$name.state"
    echo "done $name: $(cat "$out/$name.json")" >&2
  else
    echo "FAILED $name (see $out/$name.log): $(tail -n 1 "$out/$name.log")" >&2
    rm -f "$out/$name.json.tmp"
  fi
}
export -f run_one
read -r -a gpus <<< "${GPUS:--}"
sed 's/[[:space:]]*$//' "$jobs_file" | grep -v '^\s*\(#\|$\)' |
  awk -v list="${gpus[*]}" '{ n = split(list, g, " "); print g[(NR - 1) % n + 1], $0 }' |
  xargs -P "$parallel" -L 1 bash -c 'run_one "$@"' _
echo "finished: $(ls "$out"/*.json 2>/dev/null | grep -vc report) summaries in $out" >&2

#!/usr/bin/env bash
# Runs a list of `nwq quantize` jobs, several at a time, skipping every job whose result is
# already there (so an interrupted matrix resumes where it stopped). Used by `make tables`.
# Usage: scripts/quant_matrix.sh JOBS_FILE OUT_DIR [PARALLEL]
#   JOBS_FILE: one job per line, "NAME nwq-quantize-flags..." (scripts/matrix_jobs.sh writes it).
#   Each job is one scripts/quant_job.sh (the same code a Slurm array task runs,
#   scripts/slurm_tables.sh): it leaves OUT_DIR/NAME.json (the --json summary line),
#   NAME.report.json and NAME.log; the summary is written last (renamed into place), so its
#   presence means "finished". Each job also keeps its run state in OUT_DIR/NAME.state
#   (nwq quantize --state/--resume, written every CHECKPOINT_EVERY iterations): a job killed
#   part-way continues from there on the next run.
# Env: NWQ (binary, default build/nwq), CHECKPOINT_EVERY (default 1000),
#      DEADLINE (seconds: start no job after that; default none),
#      GPUS (e.g. "1 2 3": job k runs with CUDA_VISIBLE_DEVICES set to the (k mod n)-th of them).
set -euo pipefail
jobs_file=$1 out=$2 parallel=${3:-1}
nwq=${NWQ:-build/nwq}
mkdir -p "$out"
job=$(dirname "$0")/quant_job.sh  # one run: skip if finished, resume from its state, atomic summary
[ -n "${DEADLINE:-}" ] && export DEADLINE_AT=$(( $(date +%s) + DEADLINE ))
export NWQ=$nwq job
run_one() {  # run_one GPU|- NAME FLAGS...; a failed run is reported and the matrix goes on
  local gpu=$1
  shift
  [ "$gpu" = - ] || export CUDA_VISIBLE_DEVICES=$gpu
  bash "$job" "$out" "$@" || true
}
export out
export -f run_one
read -r -a gpus <<< "${GPUS:--}"
sed 's/[[:space:]]*$//' "$jobs_file" | grep -v '^\s*\(#\|$\)' |
  awk -v list="${gpus[*]}" '{ n = split(list, g, " "); print g[(NR - 1) % n + 1], $0 }' |
  xargs -P "$parallel" -L 1 bash -c 'run_one "$@"' _
echo "finished: $(ls "$out"/*.json 2>/dev/null | grep -vc report) summaries in $out" >&2

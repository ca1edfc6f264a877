#!/usr/bin/env bash
# One run of a quantization matrix, the unit of resumability shared by the local runner
# (scripts/quant_matrix.sh) and the Slurm array tasks (scripts/slurm_tables.sh).
# Usage: scripts/quant_job.sh OUT_DIR NAME nwq-quantize-flags...
#   Finished (OUT_DIR/NAME.json exists): exits 0 at once. Otherwise runs `nwq quantize FLAGS
#   --json --report OUT_DIR/NAME.report.json --state OUT_DIR/NAME.state --resume`, so a run that
#   was interrupted continues from its state; nwq's stderr goes to OUT_DIR/NAME.log (appended).
#   The summary is written last (a temporary file renamed into place) and the state removed, so
#   the summary's presence means "finished". Exit status: 0 finished or skipped, 1 the run failed.
#   A run holds OUT_DIR/locks/NAME.lock (flock) while it runs: a second runner given the same run
#   at the same time (two submissions of one array, two `make tables`) skips it instead of racing.
# Env: NWQ (binary, default build/nwq), CHECKPOINT_EVERY (iterations between state writes, default
#      1000), DEADLINE_AT (seconds since the epoch: start no run after it; default none).
set -uo pipefail
out=$1 name=$2
shift 2
nwq=${NWQ:-build/nwq}
[ -s "$out/$name.json" ] && exit 0
if [ -n "${DEADLINE_AT:-}" ] && [ "$(date +%s)" -ge "$DEADLINE_AT" ]; then
  echo "deadline: not starting $name" >&2
  exit 0
fi
mkdir -p "$out/locks"
exec 9>> "$out/locks/$name.lock"
flock -n -E 75 9
case $? in
  0) ;;
  75) echo "skip $name: another runner holds $out/locks/$name.lock" >&2; exit 0 ;;
  *) echo "warning: cannot lock $out/locks/$name.lock (file system without flock?); running $name unlocked" >&2 ;;
esac
[ -s "$out/$name.json" ] && exit 0  # finished by another runner while we waited for the lock
if "$nwq" quantize "$@" --quiet --json --report "$out/$name.report.json" \
    --state "$out/$name.state" --checkpoint-every "${CHECKPOINT_EVERY:-1000}" --resume \
    > "$out/$name.json.tmp" 2>> "$out/$name.log"; then
  mv "$out/$name.json.tmp" "$out/$name.json"
  rm -f "$out/$name.state"
  echo "done $name: $(cat "$out/$name.json")" >&2
else
  echo "FAILED $name (see $out/$name.log): $(tail -n 1 "$out/$name.log")" >&2
  rm -f "$out/$name.json.tmp"
  exit 1
fi

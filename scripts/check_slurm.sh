#!/usr/bin/env bash
# `make check-slurm`: runs scripts/slurm_tables.sh for real on a one-node Slurm cluster started here
# (Debian's slurm-wlm and munge; daemons in the foreground, stopped on exit), kills a run, resubmits.
# Usage: scripts/check_slurm.sh   Env: NWQ (default build/nwq), SETUP=0 (install nothing), CI,
#   KEEP=1 (keep the temporary folder: logs, slurm.conf, the runs).
#   Installs slurm-wlm and munge when missing (root and apt-get). Starts munged, slurmctld and
#   slurmd with a slurm.conf in a temporary folder (this host as the only node, its CPUs, no
#   cgroups), submits three tiny runs on Fashion-MNIST (one a 48-iteration QDrop run, cancelled
#   with scancel once its run state is at the fourth unit), resubmits, requeues the resumed task
#   (scontrol requeue: Slurm restarts it, as after a preemption), and checks: every run has its
#   summary, the cancelled one resumed from its state twice, finished runs were neither resubmitted nor
#   rerun, a third submission has nothing to do, a locked run is skipped, the gather step writes
#   the tables, and `make tables SLURM=1 SUBMIT=0` writes both arrays. Prints PASS or FAIL (exit 1).
#   Without root or apt-get it prints "skipped: ..." and exits 0, unless CI=true (then FAIL).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
t_start=$(date +%s)
nwq=$(realpath "${NWQ:-build/nwq}")
fail() { echo "check_slurm: FAIL: $*" >&2; diagnose; exit 1; }
skip() {
  if [ "${CI:-}" = true ]; then fail "$* (CI=true: this check must run)"; fi
  echo "check_slurm: skipped: $*"
  exit 0
}
log() { echo "check_slurm: [$(( $(date +%s) - t_start )) s] $*" >&2; }
tmp=
diagnose() {
  [ -n "$tmp" ] && [ -d "$tmp" ] || return 0
  for f in "$tmp"/slurmctld.log "$tmp"/slurmd.log "$tmp"/munged.out "$tmp"/out/slurm/*.out \
           "$tmp"/out/*.log; do
    [ -f "$f" ] && { echo "---- tail $f" >&2; tail -n 15 "$f" >&2; }
  done
}

# ---- Slurm and munge from Debian, when missing ----
[ -x "$nwq" ] || fail "no nwq binary at $nwq (make build/nwq, or NWQ=...)"
[ "$(id -u)" = 0 ] || skip "needs root (slurmd runs jobs as root here)"
if ! command -v slurmctld > /dev/null || ! command -v slurmd > /dev/null ||
   ! command -v sbatch > /dev/null || ! command -v munged > /dev/null; then
  [ "${SETUP:-1}" = 1 ] || skip "slurm-wlm/munge not installed and SETUP=0"
  command -v apt-get > /dev/null || skip "slurm-wlm/munge not installed and no apt-get"
  log "installing slurm-wlm munge"
  export DEBIAN_FRONTEND=noninteractive
  policy=/usr/sbin/policy-rc.d  # the packages' own daemons are not started (Docker's convention)
  if [ -e "$policy" ]; then policy=; else printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; fi
  apt-get install -y -qq --no-install-recommends slurm-wlm munge > /dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurm-wlm munge > /dev/null; }
  installed=$?
  [ -z "$policy" ] || rm -f "$policy"
  [ "$installed" = 0 ] || fail "apt-get install slurm-wlm munge failed"
  log "installed slurm-wlm munge"
fi

# ---- one-node cluster in a temporary folder ----
tmp=$(mktemp -d /tmp/nwq-slurm.XXXXXX)
chmod 755 "$tmp"  # munged wants the folder of its socket searchable by all
pids=()
cleanup() {
  if [ -n "${SLURM_CONF:-}" ] && [ -f "$SLURM_CONF" ]; then
    scancel --user=root > /dev/null 2>&1
    for _ in $(seq 50); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2> /dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2> /dev/null; done
  if [ "${KEEP:-0}" = 1 ]; then echo "check_slurm: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
host=$(hostname -s)
cpus=$(nproc)
port=$(( 20000 + RANDOM % 20000 ))
mungekey --create --keyfile="$tmp/munge.key" 2> /dev/null ||
  { head -c 1024 /dev/urandom > "$tmp/munge.key" && chmod 600 "$tmp/munge.key"; }
munged --foreground --socket="$tmp/munge.sock" --key-file="$tmp/munge.key" \
  --pid-file="$tmp/munged.pid" --log-file="$tmp/munged.log" --seed-file="$tmp/munged.seed" \
  > "$tmp/munged.out" 2>&1 &
pids+=($!)
mkdir -p "$tmp/state" "$tmp/spool"
export SLURM_CONF=$tmp/slurm.conf
cat > "$SLURM_CONF" <<EOF
# One-node test cluster of scripts/check_slurm.sh
ClusterName=nwqcheck
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$(( port + 1 ))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge.sock
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=2
NodeName=$host NodeAddr=127.0.0.1 NodeHostname=$host CPUs=$cpus State=UNKNOWN
PartitionName=check Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
for _ in $(seq 50); do [ -S "$tmp/munge.sock" ] && break; sleep 0.1; done
[ -S "$tmp/munge.sock" ] || fail "munged did not start"
slurmctld -D -c -f "$SLURM_CONF" > "$tmp/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$host" > "$tmp/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 150); do
  [ "$(sinfo -h -n "$host" -o %t 2>/dev/null)" = idle ] && break
  sleep 0.2
done
[ "$(sinfo -h -n "$host" -o %t 2>/dev/null)" = idle ] || fail "node $host did not become idle"
log "Slurm up: node $host, $cpus CPUs"

# ---- three tiny runs; the first is cancelled once it has a run state ----
out=$tmp/out
jobs=$tmp/jobs.txt
common="--weights models/weights/fmnist_resnet20.safetensors --data fmnist --seed 0 --calib 64"
common+=" --eval-limit 300 --no-fp-eval --device cpu"
{
  echo "# killed part-way, then resumed"
  echo "fmnist_resnet20_qdrop_w2a4_s0 $common --method qdrop --wbits 2 --abits 4 --iters 48"
  echo "fmnist_resnet20_rtn_w4a4_s0 $common --method rtn --wbits 4 --abits 4"
  echo "fmnist_resnet20_rtn_w2a4_s0 $common --method rtn --wbits 2 --abits 4"
} > "$jobs"
killed=fmnist_resnet20_qdrop_w2a4_s0
submit() {  # submit LOG: scripts/slurm_tables.sh on the list, stdout = the job id (maybe none)
  SLURM_CPUS=1 CHECKPOINT_EVERY=4 NWQ=$nwq bash scripts/slurm_tables.sh "$jobs" "$out" 2> "$1"
}
wait_queue_empty() {
  for _ in $(seq 900); do [ -z "$(squeue -h)" ] && return 0; sleep 0.2; done
  fail "the queue did not drain in 3 minutes: $(squeue)"
}
id1=$(submit "$tmp/submit1.err") || fail "first submission: $(cat "$tmp/submit1.err")"
[ -n "$id1" ] || fail "first submission printed no job id: $(cat "$tmp/submit1.err")"
log "submitted array $id1"
state_unit() {  # the unit a run state is at (the "where" of its safetensors metadata); -1 if none
  local u
  u=$(grep -aom1 '"where":"{\\"unit\\":[0-9]*' "$1" 2> /dev/null | grep -o '[0-9]*$')
  echo "${u:--1}"
}
for _ in $(seq 750); do  # cancelled at its fourth unit (of 11), as tests/test_quant_matrix.cpp does
  [ "$(state_unit "$out/$killed.state")" -ge 3 ] || [ -e "$out/$killed.json" ] && break
  sleep 0.2
done
[ -e "$out/$killed.json" ] && fail "$killed finished before it could be cancelled"
[ "$(state_unit "$out/$killed.state")" -ge 3 ] || fail "$killed reached no unit 3 run state in 150 s"
scancel "${id1}_1" || fail "scancel ${id1}_1"
log "cancelled task ${id1}_1 ($killed) with its run state at unit $(state_unit "$out/$killed.state")"
wait_queue_empty
[ -e "$out/$killed.json" ] && fail "$killed has a summary although it was cancelled"
[ -s "$out/$killed.state" ] || fail "$killed lost its run state when cancelled"
for n in fmnist_resnet20_rtn_w4a4_s0 fmnist_resnet20_rtn_w2a4_s0; do
  [ -s "$out/$n.json" ] || fail "$n did not finish in the first array"
  stat -c '%n %y' "$out/$n.json" "$out/$n.log" >> "$tmp/mtimes.before"
done

# ---- resubmission: only the cancelled run, which continues from its state ----
id2=$(submit "$tmp/submit2.err") || fail "resubmission: $(cat "$tmp/submit2.err")"
[ -n "$id2" ] || fail "resubmission printed no job id: $(cat "$tmp/submit2.err")"
grep -q '(1 of 3 runs: 1)' "$tmp/submit2.err" ||
  fail "resubmission should hold only task 1: $(cat "$tmp/submit2.err")"
log "resubmitted: array $id2"
# Preemption: Slurm requeues the task itself (the array has --requeue); it resumes again.
for _ in $(seq 750); do
  [ "$(state_unit "$out/$killed.state")" -ge 6 ] || [ -e "$out/$killed.json" ] && break
  sleep 0.2
done
[ "$(state_unit "$out/$killed.state")" -ge 6 ] || fail "$killed reached no unit 6 after resuming"
scontrol requeue "${id2}_1" || fail "scontrol requeue ${id2}_1"
log "requeued task ${id2}_1 with its run state at unit $(state_unit "$out/$killed.state")"
# Slurm holds a requeued job back (BeginTime = now + cred_expire, 120 s) because slurmd refuses a
# job credential issued in the same second as its revocation ("Job credential revoked": the task
# would end at once, not run). Release it early, but only two seconds after the requeue.
requeued_at=$(date +%s)
for _ in $(seq 100); do
  [ "$(squeue -h -j "${id2}_1" -o %t 2>/dev/null)" = PD ] && break
  sleep 0.1
done
while [ $(( $(date +%s) - requeued_at )) -lt 3 ]; do sleep 0.2; done
scontrol update JobId="${id2}_1" StartTime=now > /dev/null 2>&1
wait_queue_empty
id3=$(submit "$tmp/submit3.err") || fail "third submission: $(cat "$tmp/submit3.err")"
[ -z "$id3" ] && grep -q 'nothing to submit' "$tmp/submit3.err" ||
  fail "a third submission should have nothing to do: $id3 $(cat "$tmp/submit3.err")"

# ---- checks ----
python3 - "$out" $(grep -v '^#' "$jobs" | cut -d' ' -f1) <<'PY' || fail "summaries or report"
import json, os, sys
out, names = sys.argv[1], sys.argv[2:]
for n in names:
    assert json.load(open(f"{out}/{n}.json"))["quant_top1"] > 0, f"{n}: bad summary"
    assert not os.path.exists(f"{out}/{n}.state"), f"{n}: run state left after it finished"
assert json.load(open(f"{out}/{names[0]}.report.json"))["resumed_at"]["unit"] >= 1, "resumed_at"
PY
grep -q "^resuming $out/$killed.state at unit [1-9]" "$out/$killed.log" &&
  [ "$(grep -c "^resuming $out/$killed.state at unit" "$out/$killed.log")" = 2 ] ||
  fail "$killed did not resume twice from its state: $(grep resuming "$out/$killed.log")"
grep -q "restart 1: $killed" "$out/slurm/${id2}_1.out" || fail "no restart 1 in ${id2}_1.out"
[ "$(grep -c '^nwq quantize:' "$out/$killed.log")" = 3 ] || fail "$killed: expected 3 starts in its log"
stat -c '%n %y' $(sed 's/ .*//' "$tmp/mtimes.before") > "$tmp/mtimes.after"
cmp -s "$tmp/mtimes.before" "$tmp/mtimes.after" ||
  fail "finished runs were touched again: $(diff "$tmp/mtimes.before" "$tmp/mtimes.after")"
for n in fmnist_resnet20_rtn_w4a4_s0 fmnist_resnet20_rtn_w2a4_s0; do
  [ "$(grep -c '^nwq quantize:' "$out/$n.log")" = 1 ] || fail "$n ran more than once"
done
[ -s "$out/slurm/${id1}_1.out" ] && [ -s "$out/slurm/${id2}_1.out" ] || fail "task logs missing in $out/slurm"
lock_out=$(flock "$out/locks/held.lock" bash scripts/quant_job.sh "$out" held --no-such-flag 2>&1)
[[ $lock_out == "skip held: another runner holds"* ]] || fail "a locked run was not skipped: $lock_out"
printf '# R\n<!-- table:tables -->\n<!-- /table -->\n<!-- table:ablation -->\n<!-- /table -->\n' \
  > "$tmp/RESULTS.md"
bash scripts/gather_tables.sh "$out" "$tmp/RESULTS.md" || fail "gather_tables.sh"
grep -q '^| qdrop | ' "$out/TABLES.md" && grep -q '^| rtn | ' "$out/TABLES.md" &&
  grep -q '^### resnet20 on fmnist' "$tmp/RESULTS.md" || fail "the gathered tables lack the runs"
log "runs, resume, skip, lock and gather checked; $(grep '^| rtn' "$out/TABLES.md")"

# ---- the Makefile path writes both arrays (SUBMIT=0: nothing is submitted) ----
make --no-print-directory tables SLURM=1 SUBMIT=0 SETUP=0 TABLES_DIR="$tmp/mk" \
  CIFAR10=cifar10:/nonexistent > "$tmp/make.out" 2>&1 || { cat "$tmp/make.out" >&2; fail "make tables SLURM=1 SUBMIT=0"; }
for f in "$tmp/mk/slurm/nwq-mk.sbatch" "$tmp/mk/ablation/slurm/nwq-ablation.sbatch"; do
  [ -s "$f" ] && bash -n "$f" || fail "make tables SLURM=1 did not write $f"
done
grep -q 'SUBMIT=0, not submitted: sbatch --parsable --array=1-' "$tmp/make.out" ||
  fail "make tables SLURM=1 SUBMIT=0: $(tail -n 3 "$tmp/make.out")"
log "make tables SLURM=1 SUBMIT=0 wrote both arrays"
echo "check_slurm: PASS ($(( $(date +%s) - t_start )) s: one-node Slurm, 3 runs," \
     "1 cancelled, resubmitted, requeued and resumed twice, gather)"

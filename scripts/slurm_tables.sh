#!/usr/bin/env bash
# Submits a list of `nwq quantize` runs to Slurm as one job array, one task per run, each task
# being scripts/quant_job.sh: the same skip / resume / atomic-summary code as the local runner.
# Usage: scripts/slurm_tables.sh JOBS_FILE OUT_DIR     (`make tables SLURM=1` calls it)
#   JOBS_FILE: one run per line, "NAME nwq-quantize-flags..." (scripts/matrix_jobs.sh writes it).
#   Writes OUT_DIR/slurm/jobs-<hash>.txt (the list without comments and blank lines; task i runs
#   its line i) and OUT_DIR/slurm/<job name>.sbatch, submits the tasks of the runs that are not
#   finished (no OUT_DIR/NAME.json) with `sbatch --parsable` and prints the array's job id on
#   stdout; prints nothing and submits nothing when every run is finished. After an interruption
#   (scancel, time limit, node failure, preemption) the same command submits what is left, and
#   each interrupted run continues from OUT_DIR/NAME.state. Task logs: OUT_DIR/slurm/%A_%a.out.
# Env: NWQ (binary, default build/nwq), CHECKPOINT_EVERY (iterations between state writes, 1000);
#      SLURM_PARTITION, SLURM_TIME (per task, e.g. 4:00:00), SLURM_CPUS (per task, default 4; also
#      the OpenMP/OpenBLAS threads), SLURM_MEM (per task, e.g. 16G), SLURM_RUN_GPUS (GPUs per task
#      as --gres=gpu:N; default 1 when a run has --device cuda, else 0), SLURM_MAX_PARALLEL (tasks
#      running at once, the array's %N; default no limit), SLURM_JOB_NAME (default nwq-<basename
#      of OUT_DIR>), SLURM_EXTRA (more sbatch flags, e.g. "--account=abc --qos=low"),
#      SUBMIT=0 (write the files, print the sbatch command, submit nothing).
#   The repository, NWQ and OUT_DIR must be on a file system the compute nodes see at the same
#   paths; tasks run in the repository (relative paths in the runs are relative to it).
set -euo pipefail
[ $# -eq 2 ] || { sed -n '4,5p' "$0" >&2; exit 2; }
jobs_file=$1
mkdir -p "$2/slurm"
out=$(cd "$2" && pwd)
repo=$(cd "$(dirname "$0")/.." && pwd)
nwq=$(realpath "${NWQ:-build/nwq}")
[ -x "$nwq" ] || { echo "slurm_tables: no nwq binary at $nwq (NWQ=...)" >&2; exit 1; }

# The list as the tasks will read it, named by its content: a pending task of an earlier
# submission of another list still finds its own line.
list=$(sed 's/[[:space:]]*$//' "$jobs_file" | grep -v '^\s*\(#\|$\)' || true)
[ -n "$list" ] || { echo "slurm_tables: no runs in $jobs_file" >&2; exit 1; }
jobs_copy=$out/slurm/jobs-$(printf '%s\n' "$list" | sha256sum | cut -c1-12).txt
printf '%s\n' "$list" > "$jobs_copy.tmp" && mv "$jobs_copy.tmp" "$jobs_copy"

# The tasks still to run: 1-based line numbers of the runs without a summary, as ranges.
pending=$(awk -v out="$out" '{ if ((getline l < (out "/" $1 ".json")) <= 0) print NR;
                               close(out "/" $1 ".json") }' "$jobs_copy")
total=$(wc -l < "$jobs_copy")
if [ -z "$pending" ]; then
  echo "slurm_tables: all $total runs of $jobs_file are finished in $out; nothing to submit" >&2
  exit 0
fi
ranges=$(printf '%s\n' "$pending" | awk 'NR == 1 { a = b = $1; next }
  $1 == b + 1 { b = $1; next } { printf "%s,", (a == b ? a : a "-" b); a = b = $1 }
  END { printf "%s", (a == b ? a : a "-" b) }')
count=$(printf '%s\n' "$pending" | wc -l)

name=${SLURM_JOB_NAME:-nwq-$(basename "$out")}
cpus=${SLURM_CPUS:-4}
gpus=${SLURM_RUN_GPUS:-$(grep -q -- '--device cuda' "$jobs_copy" && echo 1 || echo 0)}
script=$out/slurm/$name.sbatch
{
  echo "#!/usr/bin/env bash"
  echo "# Written by scripts/slurm_tables.sh: array task i runs line i of $jobs_copy"
  echo "# through scripts/quant_job.sh (skipped if finished, resumed from its state if interrupted)."
  echo "#SBATCH --job-name=$name"
  echo "#SBATCH --output=$out/slurm/%A_%a.out"
  echo "#SBATCH --open-mode=append"
  echo "#SBATCH --requeue"
  echo "#SBATCH --chdir=$repo"
  echo "#SBATCH --nodes=1"
  echo "#SBATCH --ntasks=1"
  echo "#SBATCH --cpus-per-task=$cpus"
  [ -z "${SLURM_PARTITION:-}" ] || echo "#SBATCH --partition=$SLURM_PARTITION"
  [ -z "${SLURM_TIME:-}" ] || echo "#SBATCH --time=$SLURM_TIME"
  [ -z "${SLURM_MEM:-}" ] || echo "#SBATCH --mem=$SLURM_MEM"
  [ "$gpus" = 0 ] || echo "#SBATCH --gres=gpu:$gpus"
  cat <<EOF
set -uo pipefail
export OMP_NUM_THREADS=\${SLURM_CPUS_PER_TASK:-$cpus} OPENBLAS_NUM_THREADS=\${SLURM_CPUS_PER_TASK:-$cpus}
export NWQ='$nwq' CHECKPOINT_EVERY=${CHECKPOINT_EVERY:-1000}
line=\$(sed -n "\${SLURM_ARRAY_TASK_ID}p" '$jobs_copy')
[ -n "\$line" ] || { echo "task \$SLURM_ARRAY_TASK_ID: no such line in $jobs_copy" >&2; exit 2; }
echo "\$(date '+%F %T') task \${SLURM_ARRAY_JOB_ID}_\$SLURM_ARRAY_TASK_ID on \$(hostname)," \\
     "restart \${SLURM_RESTART_COUNT:-0}: \${line%% *}" >&2
printf '%s\n' "\$line" | xargs bash '$repo/scripts/quant_job.sh' '$out'
EOF
} > "$script.tmp"
mv "$script.tmp" "$script"

array=$ranges${SLURM_MAX_PARALLEL:+%$SLURM_MAX_PARALLEL}
read -r -a extra <<< "${SLURM_EXTRA:-}"
cmd=(sbatch --parsable "--array=$array" "${extra[@]}" "$script")
if [ "${SUBMIT:-1}" = 0 ]; then
  echo "slurm_tables: $count of $total runs to do; SUBMIT=0, not submitted: ${cmd[*]}" >&2
  exit 0
fi
command -v sbatch > /dev/null || { echo "slurm_tables: no sbatch on this machine" >&2; exit 1; }
if running=$(squeue -h -u "$(id -un)" -n "$name" -o %i 2>/dev/null) && [ -n "$running" ]; then
  echo "slurm_tables: note: '$name' still has tasks in the queue ($(echo $running | head -c 200));" \
       "a run given to two tasks runs once (the other skips it)" >&2
fi
id=$("${cmd[@]}")
id=${id%%;*}
echo "slurm_tables: submitted array $id ($count of $total runs: $array) from $jobs_file; logs in" \
     "$out/slurm/, results in $out" >&2
echo "$id"

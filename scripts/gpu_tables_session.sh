#!/usr/bin/env bash
# One call of a multi-GPU session (4 GPUs) for the paper-shaped results of docs/RESULTS.md and the
# GPU numbers of docs/BENCHMARKS.md. Two calls on the same machine, the second right after the first:
#   start:    GPU 0 trains the resnet18_cifar reference checkpoint (detached with setsid, so it
#             outlives the call); GPU 1 runs `nwq_bench nwqiter` (ImageNet-shape ResNet-18 NWQ vs
#             PyTorch), then the ablation set; GPUs 2-3 run the issue5 and tables sets.
#   continue: GPU 0 waits for the checkpoint, then runs the full 20k-iteration resnet18_cifar NWQ
#             run; GPUs 1-3 run the resnet18_cifar jobs, then whatever is left (killed jobs resume
#             from their run state).
# Usage: bash scripts/gpu_tables_session.sh start|continue ROOT STOP_SECONDS
#   ROOT gets tables/ (with the missing issue5 runs), ablation/ and speed/ results; every job still running at
#   STOP_SECONDS (from the start of this call) is stopped and resumes on the next call.
# Env: ITERS (per unit, default 500), PARALLEL (jobs per GPU, default 10). Fashion-MNIST comes from
# vendor/fmnist-pool (scripts/fmnist_calib_pool.sh), CIFAR-10 from vendor/cifar10-jpeg.tar.gz.
set -uo pipefail
phase=$1 root=$2 stop=$3
t0=$(date +%s)
log() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
export ITERS=${ITERS:-500} CIFAR10=/tmp/c10 FMNIST=fmnist:vendor/fmnist-pool DEVICE=cuda
export OMP_NUM_THREADS=2 CHECKPOINT_EVERY=250
parallel=${PARALLEL:-10}
nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader
bash scripts/gpu_make.sh build/nwq build/nwq_bench > /tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
log "built"
[ -d /tmp/c10/test ] || { mkdir -p /tmp/c10 && tar xzf vendor/cifar10-jpeg.tar.gz -C /tmp/c10; }
log "data ready"
mkdir -p "$root"/{tables,ablation,speed}

# A job list without the jobs that already have a summary in docs/results (earlier sessions).
jobs_for() {  # jobs_for SET [grep -E filter] [grep -v -E filter]
  bash scripts/matrix_jobs.sh "$1" | grep -E -- "${2:-.}" | grep -v -E -- "${3:-^$}" |
    while read -r name rest; do
      ls docs/results/issue5*/"$name.json" > /dev/null 2>&1 || echo "$name $rest"
    done
}
matrix() {  # matrix SET_DIR JOBS_FILE GPUS PARALLEL: runs in the background until STOP_SECONDS
  GPUS=$3 DEADLINE=$(( stop - 30 - ($(date +%s) - t0) )) \
    bash scripts/quant_matrix.sh "$2" "$root/$1" "$4" >> "$root/matrix.log" 2>&1 &
  runners+=($!)
}
runners=()
running() { for pid in "${runners[@]}"; do kill -0 "$pid" 2> /dev/null && return 0; done; return 1; }
r18=models/weights/cifar10_resnet18_cifar

if [ "$phase" = start ]; then
  if [ ! -s $r18.json ]; then
    CUDA_VISIBLE_DEVICES=0 setsid nohup bash scripts/train_reference.sh cifar10_resnet18_cifar \
      cifar10:/tmp/c10 models/weights > /tmp/train18.out 2>&1 < /dev/null &
    log "training resnet18_cifar on GPU 0 (detached)"
  fi
  { jobs_for issue5; jobs_for tables . resnet18_cifar; } | awk '!seen[$1]++' > /tmp/jobs_a.txt
  matrix tables /tmp/jobs_a.txt "2 3" $(( 2 * parallel ))
  log "matrix on GPUs 2-3: $(wc -l < /tmp/jobs_a.txt) jobs"
  CUDA_VISIBLE_DEVICES=1 nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 \
    > /tmp/bench_mem.txt 2>&1 &
  smi=$!
  CUDA_VISIBLE_DEVICES=1 NWQ_BENCH_PYTHON=python3 build/nwq_bench nwqiter 2>&1 | tee "$root/speed/nwqiter.txt"
  kill $smi
  echo "nvidia-smi max memory.used on the bench GPU: $(sort -n /tmp/bench_mem.txt | tail -1) MiB" |
    tee -a "$root/speed/nwqiter.txt"
  log "bench done"
  jobs_for ablation > /tmp/jobs_b.txt
  matrix ablation /tmp/jobs_b.txt 1 "$parallel"
  log "ablation on GPU 1: $(wc -l < /tmp/jobs_b.txt) jobs"
else
  for _ in $(seq 60); do [ -s $r18.json ] && break; sleep 5; done
  log "resnet18_cifar checkpoint: $(cat $r18.json 2>/dev/null || echo missing)"
  cp $r18.json $r18.log "$root/speed/" 2>/dev/null
  { jobs_for tables resnet18_cifar; jobs_for issue5; jobs_for tables . resnet18_cifar; } |
    awk '!seen[$1]++' > /tmp/jobs_c.txt
  matrix tables /tmp/jobs_c.txt "1 2 3" $(( 2 * parallel ))
  jobs_for ablation > /tmp/jobs_d.txt
  matrix ablation /tmp/jobs_d.txt "1 2 3" "$parallel"
  if [ -s $r18.safetensors ]; then
    echo "cifar10_resnet18_cifar_nwq_w2a4_s0_20k --weights $r18.safetensors --data cifar10:/tmp/c10" \
      "--method nwq --wbits 2 --abits 4 --seed 0 --iters 20000 --batch 32 --calib 1024" \
      "--device cuda" > /tmp/jobs_speed.txt
    CHECKPOINT_EVERY=2000 matrix speed /tmp/jobs_speed.txt 0 1
    log "20k-iteration resnet18_cifar NWQ run on GPU 0"
  fi
fi
while [ $(( $(date +%s) - t0 )) -lt "$stop" ] && running; do sleep 5; done
pkill -f "nwq quantize" && log "stopped the jobs still running (they resume from their state)"
sleep 3
log "summaries: $(ls "$root"/*/*.json 2>/dev/null | grep -vc report)"

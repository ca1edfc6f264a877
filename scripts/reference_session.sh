#!/usr/bin/env bash
# The GPU part of the fidelity check (issue #13, docs/RESULTS.md "Fidelity"): nwq and the PyTorch
# harness (tests/reference/harness.py) quantize the same PyTorch-trained CIFAR-10 checkpoints on
# the same calibration and test tensors (`nwq data`), many runs at a time on one GPU. Resumable:
# a finished run (its JSON in DIR/res) is not run again.
#   bash scripts/reference_session.sh start DIR             build, data and the job list
#   bash scripts/reference_session.sh list DIR              the runs not done yet
#   bash scripts/reference_session.sh launch DIR [PARALLEL]  the runs, detached (PARALLEL at a time)
#   bash scripts/reference_session.sh wait DIR SECONDS       wait (at most SECONDS) for the runs
#   bash scripts/reference_session.sh progress DIR           the running jobs' last log lines
#   bash scripts/reference_session.sh pack DIR OUT           results into OUT/reference_runs.tgz
# Needs vendor/ (scripts/vendor_headers.sh, plus vendor/cifar10-jpeg.tar.gz) on the GPU machine.
# Env: ITERS (3000 per unit), SEEDS ("0 1 2"), MB_SEEDS ("0"): seeds of the MobileNetV2 runs;
# USE_CUDA=0 builds a CPU-only nwq (enough when only harness runs are left).
set -uo pipefail
cmd=$1
dir=$2
R20=models/weights/cifar10_resnet20_torch.safetensors
MB=models/weights/cifar10_mobilenetv2_cifar_torch.safetensors
ITERS=${ITERS:-3000}
SEEDS=${SEEDS:-"0 1 2"}
MB_SEEDS=${MB_SEEDS:-"0"}

# One job line per run: skipped when its result exists; stdout (one JSON line) to the result.
job() {  # job NAME COMMAND...
  local name=$1
  shift
  echo "[ -s $dir/res/$name.json ] || { $* > $dir/res/$name.tmp 2> $dir/log/$name.log && mv $dir/res/$name.tmp $dir/res/$name.json; }"
}

# Both implementations of one cell: nwq (quantize --json) and the harness (run).
cell() {  # cell TAG WEIGHTS METHOD W A SEED
  local tag=$1 w=$2 method=$3 wb=$4 ab=$5 s=$6 extra=""
  local name="${tag}_${method}_w${wb}a${ab}_s${s}"
  case $method in
    brecq_style) extra="--method qdrop --drop-p 0" ;;
    *) extra="--method $method" ;;
  esac
  job "nwq_$name" build/nwq quantize --weights $w --data cifar10:/tmp/c10 $extra --wbits $wb \
    --abits $ab --iters $ITERS --calib 1024 --seed $s --device cuda --quiet --json --no-fp-eval \
    --workers 1
  job "torch_$name" python3 tests/reference/harness.py run --weights $w --calib $dir/calib_s$s.st \
    --test $dir/test.st --method $method --wbits $wb --abits $ab --iters $ITERS --seed $s \
    --device cuda
}

jobs() {  # ResNet-20 first (three seeds), then BRECQ, then MobileNetV2 (the longest runs)
  for s in $SEEDS; do
    for bits in "2 2" "2 4" "4 4"; do
      for m in qdrop brecq_style nwq; do cell r20 $R20 $m $bits $s; done
    done
  done
  for bits in "2 4" "2 2"; do cell r20 $R20 brecq $bits 0; done
  for s in $MB_SEEDS; do
    for bits in "2 2" "2 4" "4 4"; do
      for m in qdrop brecq_style nwq; do cell mb $MB $m $bits $s; done
    done
  done
  for w in r20:$R20 mb:$MB; do
    for bits in "4 4" "2 4"; do cell ${w%%:*} ${w#*:} rtn $bits 0; done
  done
}

case $cmd in
  start)
    mkdir -p "$dir/res" "$dir/log" /tmp/c10
    [ -d /tmp/c10/test ] || tar xzf vendor/cifar10-jpeg.tar.gz -C /tmp/c10
    for f in docs/results/fidelity/*_s[0-9].json; do  # runs of earlier sessions are not rerun
      [ -e "$dir/res/$(basename "$f")" ] || cp "$f" "$dir/res/"
    done
    bash scripts/gpu_make.sh USE_CUDA="${USE_CUDA:-1}" build/nwq > "$dir/build.log" 2>&1 ||
      { tail -30 "$dir/build.log"; exit 1; }
    for s in $SEEDS; do
      [ -s "$dir/calib_s$s.st" ] || build/nwq data --data cifar10:/tmp/c10 --split calib --calib 1024 \
        --seed "$s" --weights $R20 --out "$dir/calib_s$s.st" --workers 4 &
    done
    [ -s "$dir/test.st" ] || build/nwq data --data cifar10:/tmp/c10 --split test --weights $R20 \
      --out "$dir/test.st" --workers 4 &
    wait
    jobs > "$dir/jobs.txt"
    echo "$(wc -l < "$dir/jobs.txt") jobs, $(ls "$dir/res" | grep -c json) done"
    ;;
  list)  # the runs not done yet
    jobs | grep -v -F -f <(ls "$dir/res" 2> /dev/null | sed -n 's/\.json$//p' | sed 's/.*/res\/&.json /') ;;
  launch)
    export OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
    setsid nohup bash -c "xargs -P ${3:-16} -I{} bash -c '{}' < $dir/jobs.txt; echo finished > $dir/finished" \
      > "$dir/xargs.log" 2>&1 < /dev/null &
    ;;
  wait)
    end=$((SECONDS + $3))
    while [ ! -e "$dir/finished" ] && [ $SECONDS -lt $end ]; do sleep 10; done
    echo "$(ls "$dir/res" | grep -c json) of $(wc -l < "$dir/jobs.txt") runs done"
    ;;
  progress)  # the last line of each running job's log (the harness logs its units)
    for f in "$dir"/res/*.tmp; do
      [ -e "$f" ] || continue
      n=$(basename "$f" .tmp)
      echo "$n: $(tail -1 "$dir/log/$n.log" 2> /dev/null)"
    done ;;
  pack)
    tar czf "$3/reference_runs.tgz" -C "$dir" res log jobs.txt
    ;;
esac

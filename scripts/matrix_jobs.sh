#!/usr/bin/env bash
# Prints the job list of a quantization matrix for scripts/quant_matrix.sh, most important first.
# Usage: scripts/matrix_jobs.sh SET
#   SET = issue5: W4A4 NWQ on CIFAR-10 resnet20, then W2A4 and W2A2 x 5 methods x 3 seeds on
#         CIFAR-10 resnet20 and mobilenetv2_cifar.
#   SET = tables: the paper-shaped matrix (5 methods x W4A4/W2A4/W3A3/W2A2 x 3 seeds) on CIFAR-10
#         resnet20, resnet18_cifar, mobilenetv2_cifar, regnet_x_600mf_cifar, mnasnet1_0_cifar
#         and Fashion-MNIST resnet20.
# Env: CIFAR10 (data folder, default /tmp/c10), FMNIST (Fashion-MNIST data spec, default fmnist),
#      DEVICE (default cuda), ITERS (default 20000),
#      WEIGHTS_DIR (default models/weights), EXTRA (more flags for every job).
set -euo pipefail
set_name=$1
cifar=${CIFAR10:-/tmp/c10}
device=${DEVICE:-cuda}
iters=${ITERS:-20000}
wdir=${WEIGHTS_DIR:-models/weights}
methods=(nwq qdrop brecq adaround rtn)
job() {  # job DATA_TAG DATA_SPEC MODEL METHOD W A SEED
  echo "$1_$3_$4_w$5a$6_s$7 --weights $wdir/$1_$3.safetensors --data $2 --method $4" \
       "--wbits $5 --abits $6 --seed $7 --iters $iters --device $device ${EXTRA:-}"
}
ablation_job() {  # ablation_job VARIANT SEED ITERS [FLAGS...]
  local variant=$1 seed=$2 n=$3
  shift 3
  echo "abl_${variant}_s$seed --weights $wdir/cifar10_resnet20.safetensors --data cifar10:$cifar" \
       "--method nwq --wbits 2 --abits 2 --seed $seed --iters $n --device $device $* ${EXTRA:-}"
}
case "$set_name" in
  issue5)
    job cifar10 "cifar10:$cifar" resnet20 nwq 4 4 0
    for seed in 0 1 2; do
      for bits in "2 4" "2 2"; do
        for model in resnet20 mobilenetv2_cifar; do
          for m in "${methods[@]}"; do job cifar10 "cifar10:$cifar" $model $m $bits $seed; done
        done
      done
    done ;;
  tables)
    for seed in 0 1 2; do
      for bits in "4 4" "2 4" "3 3" "2 2"; do
        for m in "${methods[@]}"; do
          job fmnist "${FMNIST:-fmnist}" resnet20 $m $bits $seed
          for model in resnet20 resnet18_cifar mobilenetv2_cifar regnet_x_600mf_cifar mnasnet1_0_cifar; do
            job cifar10 "cifar10:$cifar" $model $m $bits $seed
          done
        done
      done
    done ;;
  ablation)
    for seed in 0 1 2; do  # the long ones first
      for n in 20000 10000 5000; do ablation_job "iters_$n" $seed $n; done
    done
    for seed in 0 1 2; do
      ablation_job nwq $seed "$iters"
      ablation_job scope_layer_qdrop $seed "$iters" --scope layer --mix qdrop  # amixup needs scope network
      ablation_job scope_block_qdrop $seed "$iters" --scope block --mix qdrop
      ablation_job rounding_adaround $seed "$iters" --rounding adaround
      ablation_job candidates_m1to2 $seed "$iters" --candidates -1:2
      ablation_job mix_none $seed "$iters" --mix none
      ablation_job mix_qdrop $seed "$iters" --mix qdrop
      ablation_job mix_share_1to0 $seed "$iters" --mix-share 1:0
      ablation_job mix_share_0.25to0 $seed "$iters" --mix-share 0.25:0
      ablation_job mix_share_0.5to0.5 $seed "$iters" --mix-share 0.5:0.5
      ablation_job calib_128 $seed "$iters" --calib 128
    done ;;
  *) echo "unknown set '$set_name' (issue5, tables or ablation)" >&2; exit 2 ;;
esac

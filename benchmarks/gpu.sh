#!/usr/bin/env bash
# The GPU checks of the performance targets (target 5), prepared to run in one short call each on a lent
# GPU machine, which has JAX, equinox, optax, flax and torch but no network and not spyx or snnTorch.
#
#   bash benchmarks/gpu.sh wheels   # here, once: spyx, snnTorch and what they need that the GPU
#                                   # image lacks, as Python 3.12 wheels in .whl/ (git-ignored)
#   bash benchmarks/gpu.sh bench    # there (carry .whl): `snnsad bench --sizes 4096,8192,16384`, the
#                                   # lower-bound scripts (unroll 1-8 at n = 4096, 16384; the recurrent
#                                   # step's batch-level backward), the device's name; about 5 min
#   bash benchmarks/gpu.sh tests    # there (carry .whl): the core test files, not the slow ones
#
# Results go to $OUT (the device tool's folder that comes back; default benchmarks/results/gpu). Copy
# bench.json and bench.md into benchmarks/results/gpu/ and run `python benchmarks/report.py`: target 5's row
# then shows the device and the times beside the published spyx anchors. PY names the Python to use
# (default python3); `PY=.venv/bin/python bash benchmarks/gpu.sh bench --quick` tries the script on a CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
OUT=${OUT:-benchmarks/results/gpu}
mode=${1:-}
quick=${2:-}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false  # JAX and torch share the GPU in one process

wheels() {
    local platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
        --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        "${platforms[@]}" -d .whl spyx==1.0.0 snntorch==1.0.0 nir==1.0.8 jax-tqdm==0.4.0 grain==0.2.18 \
        array-record portpicker beartype
}

setup() {
    # the checkout itself, not installed (nothing can be fetched there); the carried wheels beside it when
    # the modules this mode needs ($1) are missing
    if ! "$PY" -c "import $1" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
        export PYTHONPATH=/tmp/site
    fi
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
    { nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null || echo "no nvidia-smi"
      "$PY" -c "import jax; print('jax', jax.__version__, jax.devices())"; } | tee "$OUT/device.txt"
}

case "$mode" in
wheels)
    wheels
    ;;
bench)
    setup spyx,snntorch
    # each step runs even when one before it failed (one device call should bring back all it can)
    failed=0
    if [ "$quick" = "--quick" ]; then
        sizes=64,128 lengths=10
        "$PY" -m snnsad bench --quick --out "$OUT" 2>&1 | tee "$OUT/bench.log" || failed=1
    else
        sizes=4096,8192,16384 lengths=100,350
        "$PY" -m snnsad bench --sizes "$sizes" --out "$OUT" 2>&1 | tee "$OUT/bench.log" || failed=1
    fi
    "$PY" benchmarks/lif_lower_bound.py --sizes "${sizes%%,*},${sizes##*,}" --out "$OUT" || failed=1
    "$PY" benchmarks/recurrent_lower_bound.py --lengths "$lengths" --out "$OUT" || failed=1
    exit "$failed"
    ;;
tests)
    setup beartype
    "$PY" -m pytest -q -x -m "not slow" -p no:cacheprovider -n 4 --dist worksteal \
        tests/test_spikes.py tests/test_neurons.py tests/test_nn.py tests/test_estimators.py \
        tests/test_local_score.py tests/test_train.py tests/e2e/test_bench.py 2>&1 | tee "$OUT/tests.log"
    ;;
*)
    echo "usage: bash benchmarks/gpu.sh wheels|bench|tests [--quick]" >&2
    exit 2
    ;;
esac

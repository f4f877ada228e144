#!/usr/bin/env bash
# The checks for a machine with an NVIDIA GPU: the `cuda` build, the tests that take a device
# (tests/gpu.rs: the shipped models on the GPU against the CPU, and the dispatch that sends them
# to candle's ops), a saliency run through the binary, and training speed on the GPU.
#
#   scripts/gpu_check.sh        # on the GPU machine: build (scripts/cuda_build.sh), then check
#
# Needs cargo and the package registries (crates.io, PyPI) on that machine, and its NVIDIA driver.
# Everything is printed; keep the output. Run from anywhere; the checks run in the repository
# root (they read data/).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/cuda}"

# Build the binary, the GPU test and the two training benchmarks with `cuda`; print their paths
# (salient, gpu, train, autoencoder), one per line.
build() {
    scripts/cuda_build.sh >&2
    local json
    json="$(CARGO_COMMAND=test scripts/cuda_build.sh --no-run --message-format=json --test gpu --bench train --bench autoencoder)"
    echo "$CARGO_TARGET_DIR/release/salient"
    for name in gpu train autoencoder; do
        python3 -c '
import json, sys
name = sys.argv[1]
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == name and m.get("executable"):
        print(m["executable"])
' "$name" <<<"$json" | tail -1
    done
}

check() { # salient gpu train autoencoder [library dir]
    local salient="$1" gpu="$2" train="$3" autoencoder="$4"
    if [ -n "${5:-}" ]; then export LD_LIBRARY_PATH="$5${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
    echo "== the GPU"
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv || echo "(no nvidia-smi)"
    echo "== tests/gpu.rs on the GPU (SALIENT_REQUIRE_GPU=1: no GPU is a failure)"
    SALIENT_REQUIRE_GPU=1 "$gpu" --test-threads 1
    echo "== saliency through the binary on the GPU, against the CPU"
    local tmp; tmp="$(mktemp -d)"
    for device in cpu cuda; do
        "$salient" saliency --device "$device" --model data/models/bilstm-fine --quiet --format csv \
            --text "the movie is not bad at all" --text "a gorgeous , witty , seductive movie" --out "$tmp/$device"
    done
    python3 - "$tmp/cpu" "$tmp/cuda" <<'PY'
import csv, glob, os, sys
def rows(d):
    out = []
    for f in sorted(glob.glob(os.path.join(d, "*.csv"))):
        with open(f) as fh:
            out += [r for r in csv.reader(fh)]
    return out
a, b = rows(sys.argv[1]), rows(sys.argv[2])
assert len(a) == len(b) and a, "different CSVs"
worst = 0.0
for ra, rb in zip(a, b):
    for x, y in zip(ra, rb):
        try:
            x, y = float(x), float(y)
        except ValueError:
            assert x == y, (x, y)
            continue
        worst = max(worst, abs(x - y) / max(1e-6, abs(x)))
print(f"saliency CSV: largest relative difference GPU vs CPU {worst:.2e}")
assert worst < 1e-3
PY
    rm -rf "$tmp"
    echo "== training speed on the GPU (candle's ops; the CPU's hand-written passes do not run there)"
    "$train" --device cuda --no-peer --batches 300 --warmup 20
    "$autoencoder" --device cuda --no-peer --batches 60 --warmup 5 --decode 1024
    echo "== the same on this machine's CPU, 1 thread, for comparison"
    RAYON_NUM_THREADS=1 "$train" --no-peer --batches 300 --warmup 20
    RAYON_NUM_THREADS=1 "$autoencoder" --no-peer --batches 60 --warmup 5 --decode 1024
    echo "gpu check: done"
}

if [ $# -gt 0 ]; then
    echo "usage: scripts/gpu_check.sh (no arguments)" >&2
    exit 2
fi
mapfile -t bins < <(build)
check "${bins[@]}" "$(target/cuda-venv/bin/python -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13", "lib"))')"

#!/usr/bin/env bash
# Compile salient with the `cuda` feature on a machine without a GPU or a CUDA toolkit.
#
#   scripts/cuda_build.sh [--skip-if-unavailable] [extra cargo build args]
#   CARGO_COMMAND=test scripts/cuda_build.sh --no-run --test gpu   # another cargo command, same set-up
#
# The CUDA compiler, headers and libraries come from PyPI into target/cuda-venv (about 1.5 GB,
# once): nvidia-cuda-nvcc, -crt, -nvvm, -runtime, -cccl, -cuda-nvrtc, -cublas and -curand, pinned
# to CUDA 13.0 (PyPI's nvidia-cuda-nvcc-cu12 wheels carry ptxas but no nvcc, so CUDA 12 cannot be
# had this way). candle links cudarc's libraries at build time (its `dynamic-linking`), the
# driver's libcuda.so.1 among them, which belongs to the GPU driver and is on no index: the
# script links against a stub of it (as the CUDA toolkit's lib64/stubs), generated from the
# driver functions cudarc declares; on a GPU machine the driver's own library is loaded.
# candle's kernels are compiled for the compute capability in CUDA_COMPUTE_CAP (default 90:
# H100/H200), and the build goes to its own target directory, target/cuda (CARGO_TARGET_DIR
# overrides), so it never replaces the CPU build's target/release/salient.
#
# The binary links libcudart.so.13, libcublas(Lt).so.13, libcurand.so.10, libnvrtc.so.13 and the
# driver's libcuda.so.1; to run it elsewhere put CUDA 13 libraries on the library path (the
# script prints the LD_LIBRARY_PATH that uses the venv's). No GPU is needed to build.
#
# With --skip-if-unavailable (CI), a failed install of the wheels prints `cuda build skipped:
# <reason>` and exits 0; a failed compile is always an error.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SKIP_OK=0
if [ "${1:-}" = "--skip-if-unavailable" ]; then SKIP_OK=1; shift; fi

VENV="$ROOT/target/cuda-venv"
CUDA_VERSION_PIN="13.0.*"
PACKAGES="nvidia-cuda-nvcc==$CUDA_VERSION_PIN nvidia-cuda-crt==$CUDA_VERSION_PIN nvidia-nvvm==$CUDA_VERSION_PIN nvidia-cuda-runtime==$CUDA_VERSION_PIN nvidia-cuda-cccl==$CUDA_VERSION_PIN nvidia-cuda-nvrtc==$CUDA_VERSION_PIN nvidia-cublas==$CUDA_VERSION_PIN nvidia-curand==10.4.*"

unavailable() {
    if [ "$SKIP_OK" = 1 ]; then echo "cuda build skipped: $*" >&2; exit 0; fi
    echo "cuda build: $*" >&2; exit 1
}

cuda_home() { "$VENV/bin/python" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13"))' 2>/dev/null; }

if ! { [ -x "$VENV/bin/python" ] && [ -x "$(cuda_home)/bin/nvcc" ] && [ -e "$(cuda_home)/lib/libcublas.so.13" ]; }; then
    command -v python3 >/dev/null || unavailable "python3 not found (it installs the CUDA compiler from PyPI)"
    echo "cuda build: installing the CUDA 13.0 compiler and headers from PyPI into $VENV ..." >&2
    { [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"; } || unavailable "could not create $VENV"
    # shellcheck disable=SC2086
    timeout 600 "$VENV/bin/pip" install --quiet --disable-pip-version-check $PACKAGES ||
        unavailable "pip could not install $PACKAGES"
fi
CUDA_HOME="$(cuda_home)"
[ -x "$CUDA_HOME/bin/nvcc" ] || unavailable "no nvcc in $CUDA_HOME/bin after the install"

# Link-time names: the wheels ship only the versioned libraries.
for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libnvrtc.so.13; do
    ln -sf "$lib" "$CUDA_HOME/lib/${lib%.so.*}.so"
done
# The driver's stub: every cu* function cudarc's driver bindings declare, soname libcuda.so.1.
STUBS="$ROOT/target/cuda-stubs"
if [ ! -e "$STUBS/libcuda.so" ]; then
    cudarc="$(cargo metadata --format-version 1 --features cuda --locked 2>/dev/null | python3 -c '
import json, sys
print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "cudarc"))')" ||
        unavailable "cargo metadata could not locate cudarc"
    mkdir -p "$STUBS"
    grep -o "pub unsafe fn cu[A-Za-z0-9_]*" "$(dirname "$cudarc")/src/driver/sys/mod.rs" | sort -u |
        awk '{ print "void " $4 "(void) {}" }' > "$STUBS/libcuda.c"
    cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$STUBS/libcuda.so" "$STUBS/libcuda.c"
fi

export CUDA_HOME NVCC="$CUDA_HOME/bin/nvcc" PATH="$CUDA_HOME/bin:$PATH"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
export LIBRARY_PATH="$CUDA_HOME/lib:$STUBS${LIBRARY_PATH:+:$LIBRARY_PATH}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/cuda}"
"$NVCC" --version | tail -2 >&2
COMMAND="${CARGO_COMMAND:-build}"
echo "cuda build: cargo $COMMAND --release --features cuda (compute capability $CUDA_COMPUTE_CAP, into $CARGO_TARGET_DIR)" >&2
start=$SECONDS
cargo "$COMMAND" --release --features cuda "$@"
echo "cuda build: done in $((SECONDS - start)) s: $CARGO_TARGET_DIR/release/salient" >&2
echo "cuda build: to run it here or on a GPU machine without CUDA 13 installed: LD_LIBRARY_PATH=$CUDA_HOME/lib" >&2

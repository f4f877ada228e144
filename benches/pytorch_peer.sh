#!/usr/bin/env bash
# PyTorch peer of salient's training-speed benchmark: installs CPU-usable torch from PyPI into
# target/pytorch-venv (reused once it imports torch), then runs benches/pytorch_peer.py with the
# arguments given here and prints its one JSON line on stdout. Everything else goes to stderr.
#
#   benches/pytorch_peer.sh --data data/sst/train.txt.gz --arch lstm [--batches 300 ...]
#   benches/pytorch_peer.sh autoencoder --batches-file F --vocab-size V [...]  (autoencoder_peer.py)
#
# If torch cannot be installed, prints `pytorch peer skipped: <reason>` on stderr and exits 0
# with nothing on stdout, so the caller can leave PyTorch out of the comparison.
#
# Why the full PyPI wheel: PyPI has no CPU-only torch for x86-64 Linux, and its CUDA wheel does
# not import without the nvidia packages (libtorch_cpu.so itself links libcudart and libcupti;
# libtorch.so links libtorch_cuda.so, which links cuBLAS, cuDNN, NCCL, ...). So this installs
# the default wheel with its dependencies: about 2.8 GB downloaded, 5.3 GB on disk, about
# 70 s on the project's machine (once; later runs reuse the venv). CUDA is never used: the
# benchmark runs on the CPU. PYTORCH_PEER_PIP_ARGS adds pip options, e.g. another index
# (`--index-url <a CPU-only wheel index>`) where one can be reached.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/target/pytorch-venv"
TORCH_SPEC="${PYTORCH_PEER_TORCH:-torch==2.15.0}"

skip() { echo "pytorch peer skipped: $*" >&2; exit 0; }
has_torch() { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import torch' >/dev/null 2>&1; }

if ! has_torch; then
    command -v python3 >/dev/null || skip "python3 not found"
    echo "pytorch peer: installing $TORCH_SPEC into $VENV (a few GB, about a minute) ..." >&2
    start=$SECONDS
    python3 -m venv "$VENV" >&2 || skip "could not create the virtualenv $VENV"
    # shellcheck disable=SC2086  # PYTORCH_PEER_PIP_ARGS is split into options on purpose
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --timeout 60 --retries 2 \
        ${PYTORCH_PEER_PIP_ARGS:-} "$TORCH_SPEC" numpy >&2 \
        || skip "pip could not install $TORCH_SPEC (no network or no PyPI?)"
    has_torch || skip "$TORCH_SPEC installed but 'import torch' fails"
    echo "pytorch peer: torch installed in $((SECONDS - start)) s" >&2
fi

SCRIPT="$ROOT/benches/pytorch_peer.py"
if [ "${1:-}" = "autoencoder" ]; then
    SCRIPT="$ROOT/benches/autoencoder_peer.py"
    shift
fi
exec "$VENV/bin/python" "$SCRIPT" "$@"

#!/usr/bin/env bash
# Captum peer of salient's saliency benchmark: makes sure the PyTorch venv of
# benches/pytorch_peer.sh (target/pytorch-venv, CPU use of the PyPI torch wheel) exists, adds
# safetensors and captum to it, then runs benches/captum_peer.py with the arguments given here
# and prints its one JSON line on stdout. Everything else goes to stderr.
#
#   benches/captum_peer.sh --model data/models/bilstm-fine --input target/bench/saliency-peer-input.json [--threads 2]
#
# If torch, safetensors or captum cannot be installed, prints `captum peer skipped: <reason>` on
# stderr and exits 0 with nothing on stdout, so the caller can leave Captum out.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/target/pytorch-venv"
CAPTUM_SPEC="${CAPTUM_PEER_CAPTUM:-captum}"

skip() { echo "captum peer skipped: $*" >&2; exit 0; }
has() { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import $1" >/dev/null 2>&1; }

if ! has torch; then
    # pytorch_peer.sh installs torch (and skips itself when it cannot); run it with no
    # arguments only to install: its python script then fails on the missing --data, harmlessly.
    bash "$ROOT/benches/pytorch_peer.sh" >/dev/null 2>&1 || true
    has torch || skip "torch is not installed in $VENV (see benches/pytorch_peer.sh)"
fi
if ! has safetensors || ! has captum; then
    echo "captum peer: installing safetensors and $CAPTUM_SPEC into $VENV ..." >&2
    # shellcheck disable=SC2086  # PYTORCH_PEER_PIP_ARGS is split into options on purpose
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --timeout 60 --retries 2 \
        ${PYTORCH_PEER_PIP_ARGS:-} safetensors "$CAPTUM_SPEC" >&2 \
        || skip "pip could not install safetensors and $CAPTUM_SPEC (no network or no PyPI?)"
    has safetensors && has captum || skip "safetensors or captum installed but does not import"
fi

exec "$VENV/bin/python" "$ROOT/benches/captum_peer.py" "$@"

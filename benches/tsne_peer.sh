#!/usr/bin/env bash
# scikit-learn and openTSNE peers of salient's t-SNE benchmark: installs numpy, scikit-learn and
# openTSNE from PyPI into target/tsne-venv (reused once they import), then runs
# benches/tsne_peer.py with the arguments given here and prints its one JSON line on stdout.
# Everything else goes to stderr.
#
#   benches/tsne_peer.sh --input target/bench/tsne [--threads 2]
#
# If the packages cannot be installed, prints `tsne peer skipped: <reason>` on stderr and exits
# 0 with nothing on stdout, so the caller can report salient alone. TSNE_PEER_PIP_ARGS adds pip
# options (another index, a proxy).
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/target/tsne-venv"
PACKAGES="${TSNE_PEER_PACKAGES:-numpy scikit-learn openTSNE}"

skip() { echo "tsne peer skipped: $*" >&2; exit 0; }
ready() { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import numpy, sklearn, openTSNE' >/dev/null 2>&1; }

if ! ready; then
    command -v python3 >/dev/null || skip "python3 not found"
    echo "tsne peer: installing $PACKAGES into $VENV ..." >&2
    start=$SECONDS
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" >&2 || skip "could not create the virtualenv $VENV"
    # shellcheck disable=SC2086  # the lists are split into words on purpose
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --timeout 60 --retries 2 \
        ${TSNE_PEER_PIP_ARGS:-} $PACKAGES >&2 \
        || skip "pip could not install $PACKAGES (no network or no PyPI?)"
    ready || skip "$PACKAGES installed but do not import"
    echo "tsne peer: installed in $((SECONDS - start)) s" >&2
fi

exec "$VENV/bin/python" "$ROOT/benches/tsne_peer.py" "$@"

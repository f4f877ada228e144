#!/usr/bin/env bash
# Fuzz each target of fuzz/ for a short while (default 30 s each; FUZZ_SECONDS=600 for a long
# run). Needs cargo-fuzz (`cargo install cargo-fuzz`, installed here if missing) and a nightly
# toolchain, which cargo fuzz asks for. On a machine with only a stable toolchain,
# `RUSTC_BOOTSTRAP=1 scripts/fuzz.sh` lets stable accept the nightly-only flags (how the runs
# reported in the README were made).
#
# Seeds are in fuzz/corpus/<target>/ (committed); the corpus a run grows goes to
# fuzz/corpus-run/<target>/ (ignored by git), crashes to fuzz/artifacts/<target>/.
# `--sanitizer none`: the code under test is safe Rust; the targets look for panics, failed
# assertions, stack overflows, hangs and runaway memory.
# FUZZ_TARGET_DIR=DIR builds the targets there instead of fuzz/target (CI keeps one outside the
# clone, so that a fresh clone does not rebuild every dependency with the fuzzing instrumentation).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-30}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi
target_dir=()
if [ -n "${FUZZ_TARGET_DIR:-}" ]; then
    target_dir=(--target-dir "$FUZZ_TARGET_DIR")
fi
toolchain=()
if [ -z "${RUSTC_BOOTSTRAP:-}" ]; then
    toolchain=(+nightly)
fi

status=0
for target in sst_tree tokenizer export_spec; do
    mkdir -p "fuzz/corpus-run/$target"
    echo "fuzz: $target for ${seconds}s" >&2
    if ! cargo "${toolchain[@]}" fuzz run --sanitizer none "${target_dir[@]}" "$target" "fuzz/corpus-run/$target" "fuzz/corpus/$target" \
        -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1; then
        echo "fuzz: $target failed; the input is in fuzz/artifacts/$target/" >&2
        status=1
    fi
done
exit "$status"

#!/usr/bin/env python3
"""Train every classifier recipe with several seeds and tabulate dev and test accuracy.

The README's seed tables come from this script (standard library only):

    scripts/train_seeds.py --out runs/seeds --jobs 2

For each recipe and seed it runs `salient --threads 1 train ... --seed S --out OUT/RECIPE-sS`
(a finished run is left alone, an interrupted one resumed), then `salient eval --json` on dev and
test. It prints, per recipe, every seed's dev and test sentence accuracy, the mean and sample
standard deviation over the seeds, and the seed that dev selects (highest dev sentence accuracy,
the lowest seed on a tie) with its test score. Selection never looks at test; test is read once
per run, for the table. Everything is also written to OUT/seeds.json.
"""

import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

COMMON = ["--epochs", "20", "--patience", "4", "--l2", "1e-5", "--dropout", "0.5", "--weights-dtype", "f16"]

# name -> (arch, task, options beyond COMMON; an option given here replaces COMMON's)
RECIPES = {
    # The recipes of the models shipped before weight averaging (one seed each, README).
    "rnn-fine": ("rnn", "fine", ["--batch-size", "32", "--lr", "0.05"]),
    "rnn-binary": ("rnn", "binary", ["--batch-size", "32", "--lr", "0.02"]),
    "lstm-fine": ("lstm", "fine", ["--batch-size", "128", "--lr", "0.1"]),
    "lstm-binary": ("lstm", "binary", ["--batch-size", "128", "--lr", "0.1"]),
    "bilstm-fine": ("bilstm", "fine", ["--batch-size", "128", "--lr", "0.1"]),
    "bilstm-binary": ("bilstm", "binary", ["--batch-size", "128", "--lr", "0.1"]),
    # The same with the average of the last three epochs' weights scored and selected; the binary
    # LSTMs at half the learning rate.
    "rnn-fine-avg3": ("rnn", "fine", ["--batch-size", "32", "--lr", "0.05", "--average-last", "3"]),
    "rnn-binary-avg3": ("rnn", "binary", ["--batch-size", "32", "--lr", "0.02", "--average-last", "3"]),
    "lstm-fine-avg3": ("lstm", "fine", ["--batch-size", "128", "--lr", "0.1", "--average-last", "3"]),
    "lstm-binary-avg3": ("lstm", "binary", ["--batch-size", "128", "--lr", "0.05", "--average-last", "3"]),
    "bilstm-fine-avg3": ("bilstm", "fine", ["--batch-size", "128", "--lr", "0.1", "--average-last", "3"]),
    "bilstm-binary-avg3": ("bilstm", "binary", ["--batch-size", "128", "--lr", "0.05", "--average-last", "3"]),
    # What the one-setting-at-a-time search on dev chose (README, "What else was tried").
    "bilstm-fine-lr0.05": ("bilstm", "fine", ["--batch-size", "128", "--lr", "0.05"]),
    "bilstm-binary-l2-3e-5": ("bilstm", "binary", ["--batch-size", "128", "--lr", "0.05", "--l2", "3e-5"]),
}


def seeds(text):
    if "-" in text:
        lo, hi = text.split("-", 1)
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def salient_binary(given):
    if given:
        return given
    built = Path(__file__).resolve().parent.parent / "target" / "release" / "salient"
    return str(built) if built.exists() else "salient"


def finished(run):
    """A run whose checkpoint says it reached its last epoch or stopped early."""
    state = run / "checkpoint" / "state.json"
    if not state.exists():
        return False
    s = json.loads(state.read_text())
    return s.get("stopped_early") or s.get("epochs_done", 0) >= s["options"]["epochs"]


def train_and_score(binary, out, recipe, seed):
    arch, task, extra = RECIPES[recipe]
    run = out / f"{recipe}-s{seed}"
    if not finished(run):
        common = [v for k in range(0, len(COMMON), 2) if COMMON[k] not in extra for v in COMMON[k:k + 2]]
        cmd = [binary, "--threads", "1", "--quiet", "train", "--arch", arch, "--task", task, *common, *extra,
               "--seed", str(seed), "--out", str(run)]
        if (run / "checkpoint").exists():
            cmd.append("--resume")
        log = (out / f"{recipe}-s{seed}.log").open("w")
        result = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT)
        if result.returncode != 0:
            raise SystemExit(f"train_seeds: {' '.join(cmd)} failed; see {log.name}")
    scores = {}
    for split in ("dev", "test"):
        text = subprocess.run([binary, "eval", "--model", str(run), "--split", split, "--json"],
                              check=True, capture_output=True, text=True).stdout
        scores[split] = json.loads(text)["sentence_accuracy"]
    state = json.loads((run / "checkpoint" / "state.json").read_text())
    return {"recipe": recipe, "seed": seed, "run": str(run), "epoch": state["best"][0], **scores}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="directory of the runs (created)")
    parser.add_argument("--recipe", action="append", choices=sorted(RECIPES), help="recipes (default: all)")
    parser.add_argument("--seeds", type=seeds, default=seeds("1-5"), help="seeds: 1-5 or 1,3,7 (default 1-5)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="runs at once, one thread each")
    parser.add_argument("--salient", help="the salient binary (default: target/release/salient)")
    args = parser.parse_args()
    binary = salient_binary(args.salient)
    args.out.mkdir(parents=True, exist_ok=True)
    recipes = args.recipe or list(RECIPES)
    jobs = [(r, s) for r in recipes for s in args.seeds]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = list(pool.map(lambda job: train_and_score(binary, args.out, *job), jobs))

    summary = []
    print("| recipe | dev per seed | test per seed | test mean ± std | seed dev selects (dev / test) |")
    print("| --- | --- | --- | --- | --- |")
    for recipe in recipes:
        mine = [r for r in rows if r["recipe"] == recipe]
        tests = [r["test"] for r in mine]
        mean = statistics.fmean(tests)
        std = statistics.stdev(tests) if len(tests) > 1 else 0.0
        chosen = max(mine, key=lambda r: (r["dev"], -r["seed"]))
        summary.append({"recipe": recipe, "runs": mine, "test_mean": mean, "test_std": std, "selected": chosen})
        per_seed = lambda key: " ".join(f"{r[key]:.4f}" for r in mine)
        print(f"| {recipe} | {per_seed('dev')} | {per_seed('test')} | {mean:.4f} ± {std:.4f} | "
              f"{chosen['seed']} ({chosen['dev']:.4f} / {chosen['test']:.4f}) |")
    (args.out / "seeds.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

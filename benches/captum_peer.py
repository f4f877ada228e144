#!/usr/bin/env python3
"""Captum peer of salient's saliency benchmark.

Loads a salient model directory (model.safetensors + config.json) into the equivalent PyTorch
model: Embedding -> nn.RNN(tanh) / nn.LSTM / bidirectional nn.LSTM -> the last forward state
(and, for the BiLSTM, the backward state at the first token) -> Linear. salient stores its
recurrent weights under PyTorch's names (weight_ih_l0, ..., _reverse), so they load unchanged.
Then times Captum's `Saliency` (first derivative, abs=True) on the paper's score exp(z_c) for
the predicted class over the sentences of --input in two ways: one sentence at a time (as most
of Captum's examples run it), and batched as salient batches (sentences grouped by length, so no
padding, --batch a batch, one target per example). It checks the maps against salient's for the
first sentences, and the batched maps against the one-at-a-time maps.

Usage (normally through benches/captum_peer.sh, which installs what is needed):
    python benches/captum_peer.py --model data/models/bilstm-fine \
        --input target/bench/saliency-peer-input.json [--threads 2] [--warmup 50] [--batch 64]
--input is JSON: {"sentences": [[ids...], ...], "check": [{"ids", "matrix", "class"}, ...]}.
Prints exactly one JSON line on stdout; notes go to stderr.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
from captum.attr import Saliency
from safetensors.torch import load_file


class Classifier(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        arch, vocab, dim, hidden = cfg["arch"], cfg["vocab_size"], cfg["embedding_dim"], cfg["hidden_dim"]
        classes = 5 if cfg["task"] == "fine" else 2
        self.bi, self.hidden = arch == "bilstm", hidden
        self.embedding = nn.Embedding(vocab, dim)
        if arch == "rnn":
            self.encoder = nn.RNN(dim, hidden, nonlinearity="tanh", batch_first=True)
        else:
            self.encoder = nn.LSTM(dim, hidden, batch_first=True, bidirectional=self.bi)
        self.classifier = nn.Linear(hidden * (2 if self.bi else 1), classes)

    def forward_embedded(self, x):
        h, _ = self.encoder(x)  # batch x seq x (hidden * directions)
        if self.bi:
            rep = torch.cat([h[:, -1, : self.hidden], h[:, 0, self.hidden :]], dim=1)
        else:
            rep = h[:, -1]
        return self.classifier(rep)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--batch", type=int, default=64, help="sentences per batch in the batched run")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)["model"]
    model = Classifier(cfg)
    model.load_state_dict({k: v.float() for k, v in load_file(os.path.join(args.model, "model.safetensors")).items()})
    model.eval()
    with open(args.input) as f:
        data = json.load(f)
    sentences = [torch.tensor([ids]) for ids in data["sentences"]]
    saliency = Saliency(lambda x: torch.exp(model.forward_embedded(x)))
    print(f"captum peer: torch {torch.__version__}, {len(sentences)} sentences, {cfg['arch']}, "
          f"{args.threads} thread(s)", file=sys.stderr)

    def explain(ids):
        x = model.embedding(ids).detach()
        with torch.no_grad():
            c = int(model.forward_embedded(x).argmax(dim=1))
        return saliency.attribute(x, target=c, abs=True)[0], c

    # Agreement with salient's maps (same weights, same score, same class).
    worst = 0.0
    for item in data.get("check", []):
        ours = torch.tensor(item["matrix"])
        theirs, c = explain(torch.tensor([item["ids"]]))
        if c != item["class"]:
            print(f"captum peer: class {c} vs salient's {item['class']}", file=sys.stderr)
        worst = max(worst, float(((theirs - ours).abs() / (ours.abs().max() + 1e-12)).max()))

    for ids in sentences[: args.warmup]:
        explain(ids)
    start = time.perf_counter()
    for ids in sentences:
        explain(ids)
    seconds = time.perf_counter() - start

    # Batched as salient batches: equal-length sentences together, a target per example.
    by_length = {}
    for ids in data["sentences"]:
        by_length.setdefault(len(ids), []).append(ids)
    batches = [torch.tensor(group[i : i + args.batch])
               for _, group in sorted(by_length.items()) for i in range(0, len(group), args.batch)]

    def explain_batch(ids):
        x = model.embedding(ids).detach()
        with torch.no_grad():
            c = model.forward_embedded(x).argmax(dim=1)
        return saliency.attribute(x, target=c.tolist(), abs=True)

    largest = max(batches, key=len)
    together = explain_batch(largest)
    batch_worst = 0.0
    for k in range(len(largest)):
        alone, _ = explain(largest[k : k + 1])
        batch_worst = max(batch_worst, float(((together[k] - alone).abs() / (alone.abs().max() + 1e-12)).max()))
    for ids in batches[: max(1, args.warmup // args.batch)]:
        explain_batch(ids)
    # As salient's side: whole passes until at least 3 and 2 s, the fastest pass taken.
    batched_seconds, passes, begun = float("inf"), 0, time.perf_counter()
    while passes < 3 or time.perf_counter() - begun < 2.0:
        start = time.perf_counter()
        for ids in batches:
            explain_batch(ids)
        batched_seconds = min(batched_seconds, time.perf_counter() - start)
        passes += 1

    import captum
    print(json.dumps({
        "framework": "captum", "captum_version": captum.__version__, "torch_version": torch.__version__,
        "arch": cfg["arch"], "threads": args.threads, "sentences": len(sentences), "seconds": round(seconds, 4),
        "sentences_per_s": round(len(sentences) / seconds, 1), "max_relative_difference": worst,
        "batch": args.batch, "batches": len(batches), "batched_seconds": round(batched_seconds, 4),
        "batched_sentences_per_s": round(len(sentences) / batched_seconds, 1),
        "batched_max_relative_difference": batch_worst,
    }))


if __name__ == "__main__":
    main()

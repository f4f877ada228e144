#!/usr/bin/env python3
"""PyTorch peer of salient's training-speed benchmark.

Measures PyTorch CPU training throughput (phrases/s, tokens/s) for the same SST sentiment
classifier the Rust trainer builds: Embedding(V, 60) -> dropout 0.1 -> RNN / LSTM / BiLSTM (60)
-> last state -> dropout 0.1 -> Linear(., 5), cross-entropy, AdaGrad(lr 0.05) with an L2
penalty of 1e-5 on the weight matrices and on the embedding rows a batch touches (not on the
biases), one forward + backward + step per batch. That is salient's AdaGrad: the embedding table
gets a sparse gradient (`nn.Embedding(sparse=True)`, as a PyTorch user training a large table
would) and only the rows of the batch's words are decayed and updated. `--embedding dense` trains
it the naive way instead (a dense gradient over the whole table and AdaGrad's `weight_decay` on
every row and bias, most of a step's time at this model size) for comparison. The training set
is every labelled phrase of the SST train trees, unique by its tokens as written (as salient
dedupes them; the vocabulary is lower-cased), batched by length as the Rust trainer does
(equal-length batches, no padding, shuffled within each length and then in batch order).

Usage (normally through benches/pytorch_peer.sh, which installs torch first):
    python benches/pytorch_peer.py --data data/sst/train.txt.gz --arch lstm \
        [--batch-size 32] [--batches 300] [--warmup 20] [--seed 1] [--threads 2]
        [--embedding sparse|dense]
--data may be plain text or gzip. Prints exactly one JSON line on stdout; notes go to stderr.
"""
import argparse
import gzip
import json
import os
import random
import sys
import time
import warnings

import torch
import torch.nn as nn

EMB, HIDDEN, CLASSES, DROPOUT, L2 = 60, 60, 5, 0.1, 1e-5
PAD, UNK = 0, 1


def read_lines(path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rt", encoding="utf-8") if gz else open(path, encoding="utf-8")) as f:
        return [line.rstrip("\r\n") for line in f if line.strip()]


def tree_phrases(line):
    """Every labelled node of one PTB tree as (tokens, label), in post-order (children first).

    Tokens are split on the ASCII space only; a piece is either `(L` (opens a node) or a token
    followed by the `)` that close its leaf and any nodes ending there (tokens hold no parens).
    """
    tokens, stack, out = [], [], []
    for piece in line.split(" "):
        if piece.startswith("("):
            stack.append((int(piece[1:]), len(tokens)))
            continue
        tok = piece.split(")", 1)[0]
        tokens.append(tok)
        for _ in range(len(piece) - len(tok)):
            label, start = stack.pop()
            out.append((tuple(tokens[start:]), label))
    return out


def load_examples(path):
    """Unique phrases (first occurrence's label wins) as (ids, label), plus the vocabulary size."""
    seen = {}
    for line in read_lines(path):
        for toks, label in tree_phrases(line):
            seen.setdefault(toks, label)
    vocab = {}
    for toks in seen:
        for t in toks:
            vocab.setdefault(t.lower(), len(vocab) + 2)  # 0 = pad, 1 = unk
    examples = [([vocab.get(t.lower(), UNK) for t in toks], label) for toks, label in seen.items()]
    return examples, len(vocab) + 2


def length_batches(examples, batch_size, rng):
    """Equal-length batches: group by length, shuffle each group, chunk, shuffle batch order."""
    by_len = {}
    for i, (ids, _) in enumerate(examples):
        by_len.setdefault(len(ids), []).append(i)
    batches = []
    for length in sorted(by_len):
        group = by_len[length]
        rng.shuffle(group)
        batches += [group[k:k + batch_size] for k in range(0, len(group), batch_size)]
    rng.shuffle(batches)
    return batches


class Classifier(nn.Module):
    def __init__(self, vocab_size, arch, sparse):
        super().__init__()
        self.bi = arch == "bilstm"
        self.emb = nn.Embedding(vocab_size, EMB, sparse=sparse)
        self.drop = nn.Dropout(DROPOUT)
        if arch == "rnn":
            self.enc = nn.RNN(EMB, HIDDEN, nonlinearity="tanh", batch_first=True)
        else:
            self.enc = nn.LSTM(EMB, HIDDEN, batch_first=True, bidirectional=self.bi)
        self.out = nn.Linear(HIDDEN * (2 if self.bi else 1), CLASSES)
        for p in self.parameters():
            nn.init.uniform_(p, -0.1, 0.1)

    def forward(self, ids):
        h, _ = self.enc(self.drop(self.emb(ids)))  # batch x seq x (hidden * directions)
        if self.bi:  # forward state at the last step, backward state at step 0
            rep = torch.cat([h[:, -1, :HIDDEN], h[:, 0, HIDDEN:]], dim=1)
        else:
            rep = h[:, -1]
        return self.out(self.drop(rep))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--arch", required=True, choices=["rnn", "lstm", "bilstm"])
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--batches", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--embedding", choices=["sparse", "dense"], default="sparse")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    # AdaGrad's sparse path warns on every step that it skips sparse invariant checks.
    warnings.filterwarnings("ignore", message="Sparse invariant checks")
    torch.manual_seed(args.seed)
    examples, vocab_size = load_examples(args.data)
    order = length_batches(examples, args.batch_size, random.Random(args.seed))
    # Tensors are built up front so that only training is timed.
    batches = [(torch.tensor([examples[i][0] for i in b]), torch.tensor([examples[i][1] for i in b]))
               for b in order]
    print(f"pytorch peer: torch {torch.__version__}, {len(examples)} phrases, vocab {vocab_size}, "
          f"{len(batches)} batches, load average {os.getloadavg()[0]:.2f} (busy cores slow it down)",
          file=sys.stderr)

    sparse = args.embedding == "sparse"
    model = Classifier(vocab_size, args.arch, sparse)
    model.train()
    loss_fn = nn.CrossEntropyLoss()
    if sparse:
        # L2 on weight matrices (not biases) through weight_decay; on the touched embedding rows
        # through the loss, since AdaGrad's weight_decay refuses sparse gradients.
        matrices = [p for n, p in model.named_parameters() if n != "emb.weight" and "bias" not in n]
        biases = [p for n, p in model.named_parameters() if "bias" in n]
        opt = torch.optim.Adagrad([{"params": matrices, "weight_decay": L2}, {"params": biases},
                                   {"params": [model.emb.weight]}], lr=0.05)
        batches = [(ids, labels, torch.unique(ids)) for ids, labels in batches]
    else:
        opt = torch.optim.Adagrad(model.parameters(), lr=0.05, weight_decay=L2)
        batches = [(ids, labels, None) for ids, labels in batches]

    def step(k):
        ids, labels, rows = batches[k % len(batches)]
        opt.zero_grad()
        loss = loss_fn(model(ids), labels)
        if rows is not None:
            loss = loss + 0.5 * L2 * model.emb(rows).pow(2).sum()
        loss.backward()
        opt.step()
        return ids.numel(), ids.shape[0]

    for k in range(args.warmup):
        step(k)
    tokens = phrases = 0
    start = time.perf_counter()
    for k in range(args.warmup, args.warmup + args.batches):
        t, p = step(k)
        tokens += t
        phrases += p
    seconds = time.perf_counter() - start

    print(json.dumps({
        "framework": "pytorch", "torch_version": torch.__version__, "arch": args.arch,
        "embedding": args.embedding,
        "batch_size": args.batch_size, "threads": args.threads, "batches": args.batches,
        "phrases": phrases, "tokens": tokens, "seconds": round(seconds, 4),
        "phrases_per_s": round(phrases / seconds, 1), "tokens_per_s": round(tokens / seconds, 1),
    }))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""PyTorch peer of salient's autoencoder benchmark.

The same model as salient's default autoencoder: one Embedding(V, 128) shared by both sides; an
LSTM(128, 256) encoder reading the sentence right to left; an LSTM(128, 256) decoder started
from the encoder's (h, c) and teacher-forced on [BOS] + sentence; Linear(256, V); cross-entropy
against sentence + [EOS]; gradients clipped to global norm 5; Adam(lr 2e-3). Forget-gate biases
start at 1 as in salient. The batches are read from a file the Rust benchmark writes (one JSON
list of token-id lists per line, equal lengths within a batch), so both sides see exactly the
same data.

Usage (normally through `benches/pytorch_peer.sh autoencoder ...`):
    python benches/autoencoder_peer.py --batches-file F --vocab-size V --warmup N \
        [--decode-file G] [--threads 2]
Prints one JSON line on stdout (train tokens/s and sentences/s; greedy reconstructions/s when
--decode-file is given); notes go to stderr.
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn

EMB, HIDDEN = 128, 256
PAD, UNK, BOS, EOS = 0, 1, 2, 3


class Autoencoder(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embedding = nn.Embedding(vocab, EMB)
        self.encoder = nn.LSTM(EMB, HIDDEN)
        self.decoder = nn.LSTM(EMB, HIDDEN)
        self.output = nn.Linear(HIDDEN, vocab)
        for lstm in (self.encoder, self.decoder):
            for name, p in lstm.named_parameters():
                if "bias" in name:
                    with torch.no_grad():
                        p.zero_()
                        p[HIDDEN:2 * HIDDEN] = 0.5
                else:
                    nn.init.uniform_(p, -0.08, 0.08)
        nn.init.uniform_(self.embedding.weight, -0.08, 0.08)
        nn.init.uniform_(self.output.weight, -0.08, 0.08)
        nn.init.zeros_(self.output.bias)

    def encode(self, src):  # src: (T, B) token ids
        _, state = self.encoder(self.embedding(torch.flip(src, [0])))
        return state

    def forward(self, src, dec_in):
        out, _ = self.decoder(self.embedding(dec_in), self.encode(src))
        return self.output(out)  # (T', B, V)


def time_major(batch):
    return torch.tensor(batch, dtype=torch.long).t().contiguous()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches-file", required=True)
    ap.add_argument("--vocab-size", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--decode-file")
    ap.add_argument("--max-len", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    with open(a.batches_file) as f:
        batches = [json.loads(line) for line in f if line.strip()]
    model = Autoencoder(a.vocab_size)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    sentences = tokens = 0
    start = time.perf_counter()
    for k, batch in enumerate(batches):
        if k == a.warmup:
            sentences = tokens = 0
            start = time.perf_counter()
        src = time_major(batch)
        bos = torch.full((1, src.shape[1]), BOS, dtype=torch.long)
        eos = torch.full((1, src.shape[1]), EOS, dtype=torch.long)
        dec_in = torch.cat([bos, src], 0)
        target = torch.cat([src, eos], 0)
        logits = model(src, dec_in)
        loss = loss_fn(logits.reshape(-1, a.vocab_size), target.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sentences += src.shape[1]
        tokens += target.numel()
    secs = time.perf_counter() - start
    result = {"train_sentences_per_s": sentences / secs, "train_tokens_per_s": tokens / secs,
              "threads": a.threads, "torch": torch.__version__}
    if a.decode_file:
        with open(a.decode_file) as f:
            groups = [json.loads(line) for line in f if line.strip()]
        model.eval()
        n = 0
        start = time.perf_counter()
        with torch.no_grad():
            for group in groups:
                src = time_major(group)
                h, c = model.encode(src)
                prev = torch.full((1, src.shape[1]), BOS, dtype=torch.long)
                done = torch.zeros(src.shape[1], dtype=torch.bool)
                for _ in range(a.max_len + 1):
                    out, (h, c) = model.decoder(model.embedding(prev), (h, c))
                    prev = model.output(out).argmax(-1)
                    done |= prev[0] == EOS
                    if bool(done.all()):
                        break
                n += src.shape[1]
        result["reconstructions_per_s"] = n / (time.perf_counter() - start)
    print(json.dumps(result))
    print(f"autoencoder peer: {result}", file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""salient <-> PyTorch, both ways.

Check (the default): load every shipped model (data/models/*: the six classifiers and the
autoencoder) into plain torch.nn modules (nn.Embedding, nn.RNN / nn.LSTM, nn.Linear) with
load_state_dict(strict=True), straight from model.safetensors, and check that they compute
what salient computes for a few sentences: the logits, and the first-derivative saliency
|dS_c/de| per token and embedding dimension with salient's default score (S_c = exp(z_c) of the
predicted class for a classifier; for the autoencoder, S_t = the logit of the token it writes at
output step t, for every input token). salient's numbers come from its own binary
(`salient saliency --format json`, `salient autoencoder saliency --format json`); the token ids
come from the model's tokenizer.json through the `tokenizers` package (checked against
salient's). PyTorch runs in float64, salient in float32. Prints, per model, the largest
difference relative to the largest magnitude of what is compared (logits; saliency), and exits
with status 1 if one is above --tolerance.

Export (--export DIR): the other way. Trains a small LSTM classifier in PyTorch on the SST
training sentences (root labels, its own vocabulary and sizes), saves its state dict with
safetensors.torch.save_file as DIR/model.safetensors and its tokenizer (made with `tokenizers`)
as DIR/tokenizer.json, runs `salient import --from-pytorch` into DIR/salient, and checks that
salient's logits and saliency of the imported model are PyTorch's. Then
`salient saliency --model DIR/salient ...` draws salient's figures for it.

Needs torch, safetensors and tokenizers (`pip install torch safetensors tokenizers`), and a
built salient (`cargo build --release`). Run from anywhere:

    python examples/pytorch_interop.py [--salient target/release/salient] [--tolerance 1e-4]
    python examples/pytorch_interop.py --export runs/torch-lstm [--epochs 2] [--seed 1]
"""
import argparse
import collections
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SENTENCES = [
    "a gorgeous , witty , seductive movie .",
    "the plot is not bad , but the acting is awful .",
    "it 's a lovely film with lovely performances .",
    "i did n't like it at all",
]
BOS = 2


class Classifier(nn.Module):
    """salient's classifier: embedding, one recurrent layer (two directions for bi*), linear
    output on the final hidden state(s), forward then backward."""

    def __init__(self, arch, vocab_size, embedding_dim, hidden_dim, classes):
        super().__init__()
        bidirectional = arch.startswith("bi")
        cell = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[arch.removeprefix("bi")]
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.encoder = cell(embedding_dim, hidden_dim, batch_first=True, bidirectional=bidirectional)
        self.classifier = nn.Linear(hidden_dim * (2 if bidirectional else 1), classes)

    def forward_embedded(self, x):  # x: (batch, tokens, embedding) -> logits (batch, classes)
        _, state = self.encoder(x)
        h_n = state[0] if isinstance(state, tuple) else state  # (directions, batch, hidden)
        return self.classifier(torch.cat(list(h_n), dim=-1))

    def forward(self, ids):
        return self.forward_embedded(self.embedding(ids))


class Autoencoder(nn.Module):
    """salient's autoencoder: a one-direction LSTM encoder (reading the sentence right to left
    when the config says reverse_input), an LSTM decoder started from its (h, c), a linear
    output over the vocabulary; one embedding table for both."""

    def __init__(self, vocab_size, embedding_dim, hidden_dim, reverse_input):
        super().__init__()
        self.reverse_input = reverse_input
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.encoder = nn.LSTM(embedding_dim, hidden_dim)
        self.decoder = nn.LSTM(embedding_dim, hidden_dim)
        self.output = nn.Linear(hidden_dim, vocab_size)

    def forward_embedded(self, x, decoder_ids):  # x: (tokens, embedding) -> logits (steps, vocab)
        source = x.flip(0) if self.reverse_input else x
        _, state = self.encoder(source.unsqueeze(1))
        out, _ = self.decoder(self.embedding(decoder_ids).unsqueeze(1), state)
        return self.output(out.squeeze(1))


def load(module, model_dir):
    """Load model.safetensors into `module` (strict: every name and shape must match)."""
    module.load_state_dict(load_file(os.path.join(model_dir, "model.safetensors")), strict=True)
    return module.double().eval()


def relative(a, b):
    """Largest |a - b| relative to the largest |b|."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def run_salient(binary, args):
    out = tempfile.mkdtemp(prefix="salient-interop-")
    subprocess.run([binary, *args, "--out", out, "--format", "json", "--quiet"], check=True)
    with open(os.path.join(out, "saliency.json"), encoding="utf-8") as f:
        return json.load(f)["results"]


def token_ids(model_dir, text, expected):
    """The ids of `text` by the `tokenizers` package, which must be salient's."""
    ids = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json")).encode(text).ids
    if ids != expected:
        sys.exit(f"{model_dir}: tokenizers gives {ids} for {text!r}, salient {expected}")
    return ids


def check_classifier(binary, model_dir, module):
    """Largest relative differences (logits, saliency) between `module` and salient's model."""
    texts = [a for s in SENTENCES for a in ("--text", s)]
    results = run_salient(binary, ["saliency", "--model", model_dir, *texts])
    worst_logits = worst_saliency = 0.0
    for r in results:
        ids = torch.tensor([token_ids(model_dir, r["text"], r["ids"])])
        e = module.embedding(ids).detach().requires_grad_(True)
        logits = module.forward_embedded(e)[0]
        c = r["class"]
        if int(logits.argmax()) != r["predicted"]:
            sys.exit(f"{model_dir}: PyTorch predicts {int(logits.argmax())} for {r['text']!r}, salient {r['predicted']}")
        # salient reports p and S_c = exp(z_c): its logits are log p - log p_c + log S_c.
        p = torch.tensor(r["probabilities"], dtype=torch.float64)
        theirs = p.log() - p[c].log() + torch.tensor(r["score"], dtype=torch.float64).log()
        worst_logits = max(worst_logits, relative(theirs, logits.detach()))
        torch.exp(logits[c]).backward()
        worst_saliency = max(worst_saliency, relative(r["matrix"], e.grad[0].abs()))
    return worst_logits, worst_saliency


def check_autoencoder(binary, model_dir, module):
    texts = [a for s in SENTENCES for a in ("--text", s)]
    results = run_salient(binary, ["autoencoder", "saliency", "--model", model_dir, *texts])
    worst_logits = worst_saliency = 0.0
    for r in results:
        steps = r["steps"]
        ids = torch.tensor(token_ids(model_dir, r["text"], steps[0]["ids"]))
        outputs = [s["class"] for s in steps]  # the token written at each step (greedy)
        decoder_ids = torch.tensor([BOS] + outputs[:-1])
        x = module.embedding(ids).detach().requires_grad_(True)
        logits = module.forward_embedded(x, decoder_ids)
        if logits.argmax(-1).tolist() != outputs:
            sys.exit(f"{model_dir}: PyTorch reconstructs {logits.argmax(-1).tolist()}, salient {outputs}")
        scores = logits[torch.arange(len(outputs)), outputs]
        worst_logits = max(worst_logits, relative([s["score"] for s in steps], scores.detach()))
        for t, step in enumerate(steps):
            (grad,) = torch.autograd.grad(scores[t], x, retain_graph=True)
            worst_saliency = max(worst_saliency, relative(step["matrix"], grad.abs()))
    return worst_logits, worst_saliency


def shipped_models():
    base = os.path.join(ROOT, "data", "models")
    for name in sorted(os.listdir(base)):
        model_dir = os.path.join(base, name)
        with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
            card = json.load(f)
        yield name, model_dir, card


def check(args):
    rows = []
    for name, model_dir, card in shipped_models():
        m = card["model"]
        if card["format"] == "salient-autoencoder":
            # The config travels in the weights file too.
            with safe_open(os.path.join(model_dir, "model.safetensors"), "pt") as f:
                assert json.loads(f.metadata()["config"])["model"] == m
            module = load(Autoencoder(m["vocab_size"], m["embedding_dim"], m["hidden_dim"], m["reverse_input"]), model_dir)
            rows.append((name, *check_autoencoder(args.salient, model_dir, module)))
        else:
            classes = {"fine": 5, "binary": 2}[m["task"]]
            module = Classifier(m["arch"], m["vocab_size"], m["embedding_dim"], m["hidden_dim"], classes)
            rows.append((name, *check_classifier(args.salient, model_dir, load(module, model_dir))))
    return report(rows, args.tolerance)


def report(rows, tolerance):
    print(f"{'model':<16} {'logits':>10} {'saliency':>10}   (largest difference / largest magnitude)")
    for name, logits, saliency in rows:
        print(f"{name:<16} {logits:>10.2e} {saliency:>10.2e}")
    worst = max(max(l, s) for _, l, s in rows)
    if worst > tolerance:
        print(f"FAIL: {worst:.2e} is above the tolerance {tolerance:.0e}")
        return 1
    print(f"ok: every difference is within {tolerance:.0e}")
    return 0


def sst_sentences(split):
    """(tokens, root label) of each tree of data/sst/<split>.txt.gz."""
    out = []
    with gzip.open(os.path.join(ROOT, "data", "sst", f"{split}.txt.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                leaves = [p.split(")", 1)[0] for p in line.strip().split(" ") if not p.startswith("(")]
                out.append((leaves, int(line[1])))
    return out


def export(args):
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    train, dev = sst_sentences("train"), sst_sentences("dev")
    counts = collections.Counter(t.lower() for tokens, _ in train for t in tokens)
    words = ["[PAD]", "[UNK]"] + sorted(counts, key=lambda w: (-counts[w], w))
    vocab = {w: i for i, w in enumerate(words)}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()

    def ids(tokens):
        return [vocab.get(t.lower(), 1) for t in tokens]

    model = Classifier("lstm", len(vocab), args.embedding_dim, args.hidden_dim, 5)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    by_length = collections.defaultdict(list)
    for tokens, label in train:
        by_length[len(tokens)].append((ids(tokens), label))
    for epoch in range(args.epochs):
        batches = [g[i:i + 32] for g in by_length.values() for i in range(0, len(g), 32)]
        rng.shuffle(batches)
        model.train()
        for batch in batches:
            x = torch.tensor([b[0] for b in batch])
            y = torch.tensor([b[1] for b in batch])
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            correct = sum(int(model(torch.tensor([ids(t)])).argmax()) == label for t, label in dev)
        print(f"epoch {epoch + 1}: dev sentence accuracy {correct / len(dev):.4f} (PyTorch)")
    os.makedirs(args.export, exist_ok=True)
    weights = os.path.join(args.export, "model.safetensors")
    save_file(model.state_dict(), weights)
    tokenizer.save(os.path.join(args.export, "tokenizer.json"))
    print(f"wrote {weights} and tokenizer.json")
    imported = os.path.join(args.export, "salient")
    subprocess.run(
        [args.salient, "import", "--from-pytorch", weights, "--tokenizer", os.path.join(args.export, "tokenizer.json"),
         "--arch", "lstm", "--out", imported, "--data", os.path.join(ROOT, "data", "sst"), "--force"],
        check=True,
    )
    logits, saliency = check_classifier(args.salient, imported, model.double().eval())
    return report([("torch-lstm", logits, saliency)], args.tolerance)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--salient", default=os.path.join(ROOT, "target", "release", "salient"),
                    help="the salient binary (default: target/release/salient)")
    ap.add_argument("--tolerance", type=float, default=1e-4,
                    help="largest relative difference accepted (default 1e-4)")
    ap.add_argument("--export", metavar="DIR", help="train a classifier in PyTorch and write it to DIR")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--embedding-dim", type=int, default=50)
    ap.add_argument("--hidden-dim", type=int, default=40)
    ap.add_argument("--lr", type=float, default=0.005)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not os.path.exists(args.salient):
        sys.exit(f"no salient binary at {args.salient}: build it with `cargo build --release` or pass --salient")
    torch.set_num_threads(1)
    sys.exit(export(args) if args.export else check(args))


if __name__ == "__main__":
    main()

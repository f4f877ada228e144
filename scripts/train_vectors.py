#!/usr/bin/env python3
"""Train word vectors for the SST classifiers on text shipped in data/ (no download).

The text: the English news sentences of data/autoencoder/train.txt.gz (96,143 sentences, about
2 M tokens) and the sentences of the SST *training* split (data/sst/train.txt.gz; dev and test are
never read). Both are split and lower-cased exactly as salient does, through a shipped model's
tokenizer.json (its normalizer and pre-tokenizer), so that every word is spelled as the
classifiers' vocabulary spells it.

The vectors: gensim's skip-gram word2vec (negative sampling), one worker thread and a fixed seed,
with a hash of its own in place of Python's salted hash(), so the same command gives the same file
on the same machine. Only the words of that tokenizer's vocabulary are written (the others could
never be looked up), in GloVe's text format, gzip-compressed with a fixed timestamp.

    python3 -m venv target/vectors-venv
    target/vectors-venv/bin/pip install gensim==4.4.0 tokenizers==0.23.3
    target/vectors-venv/bin/python scripts/train_vectors.py --out data/vectors/news-sst-60d.txt.gz

Then `salient train --embeddings data/vectors/news-sst-60d.txt.gz ...`.
"""

import argparse
import gzip
import io
import os
import re
import sys
import zlib

LEAF = re.compile(r"\(\d+ ([^()\s]+)\)")


def stable_hash(text):
    """A hash that, unlike hash(), is the same in every process (gensim seeds vectors with it)."""
    return zlib.crc32(text.encode("utf-8"))


def news_sentences(path, tokenizer):
    normalizer, pre = tokenizer.normalizer, tokenizer.pre_tokenizer
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            text = line.rstrip("\n")
            if not text.strip():
                continue
            norm = normalizer.normalize_str(text) if normalizer else text
            words = [w for w, _ in pre.pre_tokenize_str(norm)]
            if words:
                yield words


def sst_sentences(path, lowercase):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            leaves = LEAF.findall(line)
            if not leaves:
                sys.exit(f"{path}:{n}: expected a PTB tree with leaves like (2 word)")
            yield [w.lower() for w in leaves] if lowercase else leaves


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--news", default="data/autoencoder/train.txt.gz")
    p.add_argument("--sst", default="data/sst/train.txt.gz")
    p.add_argument("--tokenizer", default="data/models/lstm-binary/tokenizer.json",
                   help="a classifier's tokenizer.json: its vocabulary and its way of splitting text")
    p.add_argument("--out", required=True, help="the .txt.gz file to write (refused if it exists)")
    p.add_argument("--dim", type=int, default=60)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--negative", type=int, default=10)
    p.add_argument("--min-count", type=int, default=2)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--sst-repeat", type=int, default=1,
                   help="how many times the SST sentences are put in the corpus (weight against the news)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply every vector by this (word2vec's are about 2.6 long; salient's random "
                        "embeddings, uniform in [-0.1, 0.1] over 60 values, about 0.45)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--force", action="store_true", help="overwrite --out")
    args = p.parse_args()

    if os.path.exists(args.out) and not args.force:
        sys.exit(f"{args.out} exists; give another --out, or --force to overwrite it")

    from gensim.models import Word2Vec
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(args.tokenizer)
    lowercase = "Lowercase" in tokenizer.to_str()
    corpus = list(news_sentences(args.news, tokenizer))
    news = len(corpus)
    sst = list(sst_sentences(args.sst, lowercase))
    corpus += sst * args.sst_repeat
    tokens = sum(len(s) for s in corpus)
    print(f"corpus: {news} news sentences, {len(sst)} SST training sentences x {args.sst_repeat}, "
          f"{tokens} tokens", file=sys.stderr)

    model = Word2Vec(
        sentences=corpus, vector_size=args.dim, window=args.window, sg=1, negative=args.negative,
        min_count=args.min_count, epochs=args.epochs, workers=1, seed=args.seed,
        hashfxn=stable_hash,
    )
    vocab = tokenizer.get_vocab()
    words = sorted((w for w in vocab if w in model.wv.key_to_index), key=lambda w: vocab[w])
    print(f"vectors: {len(words)} of the {len(vocab)} tokenizer entries "
          f"({len(model.wv.key_to_index)} words trained)", file=sys.stderr)

    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        text = io.TextIOWrapper(gz, encoding="utf-8", newline="\n")
        for w in words:
            values = " ".join(f"{v * args.scale:.5f}" for v in model.wv[w])
            text.write(f"{w} {values}\n")
        text.flush()
        text.detach()
    os.replace(tmp, args.out)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()

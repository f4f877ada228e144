#!/usr/bin/env python3
"""Build data/autoencoder/{train,dev,test}.txt.gz from the WMT news sentences.

Usage: python3 data/autoencoder/prepare.py SOURCE_DIR [OUT_DIR]

SOURCE_DIR is the folder with wmt_news_en/MANIFEST.tsv (the copy this project was given lived at
../shared/data/autoencoder). Files are read in manifest order; each line is stripped of
surrounding whitespace, empty lines are dropped, and only the first occurrence of each distinct
line is kept (the same English sentence occurs in several language pairs' files). Each distinct
sentence then goes to one split by its SHA-256: the first four bytes as a number, modulo 100:
0-1 dev (model selection), 2-5 test (held-out reporting), 6-99 train. The splits share no
sentence. Output is gzip with a zero timestamp, so reruns give identical bytes.
Standard library only.
"""
import gzip
import hashlib
import os
import sys


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    source = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) == 3 else os.path.dirname(os.path.abspath(__file__))
    manifest = os.path.join(source, "wmt_news_en", "MANIFEST.tsv")
    with open(manifest, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    seen = set()
    splits = {"train": [], "dev": [], "test": []}
    total = 0
    for row in rows:
        with open(os.path.join(source, row[0]), encoding="utf-8") as f:
            for line in f:
                total += 1
                line = line.strip()
                if not line or line in seen:
                    continue
                seen.add(line)
                bucket = int.from_bytes(hashlib.sha256(line.encode("utf-8")).digest()[:4], "big") % 100
                split = "dev" if bucket < 2 else "test" if bucket < 6 else "train"
                splits[split].append(line)
    for name, lines in splits.items():
        path = os.path.join(out, f"{name}.txt.gz")
        tmp = path + ".tmp"
        with open(tmp, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
                gz.write("".join(l + "\n" for l in lines).encode("utf-8"))
        os.replace(tmp, path)
        print(f"{name}: {len(lines)} sentences -> {path}")
    print(f"{total} lines read, {len(seen)} distinct")


if __name__ == "__main__":
    main()

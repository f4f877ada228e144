#!/usr/bin/env python3
"""Write SST's sentences with their binary root labels as labelled text (TSV), for salient's
"your own labelled text" example and tests.

    python3 scripts/make_sst_tsv.py [--sst data/sst] [--out data/sst-tsv]

For each split (train, dev, test) it reads the PTB trees of `<sst>/<split>.txt.gz` and writes
`<out>/<split>.tsv.gz`: a header row `text<TAB>label`, then one row per sentence whose root label
is not neutral, in file order. The text is the tree's tokens joined by single spaces (PTB form:
`-LRB-`, `n't` split off, as in the trees; salient's tokenizer reads it back into the same
tokens); the label is SST-2's: `negative` for root labels 0-1, `positive` for 3-4 (neutral 2
dropped). Python 3 standard library only; the gzip output carries no name or time stamp, so the
same input gives the same bytes.
"""

import argparse
import gzip
import io
import os
import re
import sys

LABELS = {"0": "negative", "1": "negative", "3": "positive", "4": "positive"}
LEAF = re.compile(r"\(\d ([^()\s]+)\)")


def sentences(path):
    """(tokens, root label) of every tree in an SST file."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.startswith("(") or len(line) < 2:
                sys.exit(f"{path}:{number}: not an SST tree")
            tokens = LEAF.findall(line)
            if not tokens:
                sys.exit(f"{path}:{number}: a tree without tokens")
            yield tokens, line[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sst", default="data/sst", help="directory of SST trees (default: data/sst)")
    parser.add_argument("--out", default="data/sst-tsv", help="output directory (default: data/sst-tsv)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for split in ("train", "dev", "test"):
        rows = ["text\tlabel"]
        for tokens, root in sentences(os.path.join(args.sst, f"{split}.txt.gz")):
            if root in LABELS:
                rows.append(" ".join(tokens) + "\t" + LABELS[root])
        data = ("\n".join(rows) + "\n").encode("utf-8")
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
            gz.write(data)
        target = os.path.join(args.out, f"{split}.tsv.gz")
        temporary = target + ".tmp"
        with open(temporary, "wb") as f:
            f.write(buffer.getvalue())
        os.replace(temporary, target)
        print(f"{target}: {len(rows) - 1} sentences")


if __name__ == "__main__":
    main()

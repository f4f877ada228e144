"""Peers of salient's t-SNE benchmark (run through benches/tsne_peer.sh).

Reads the points that `cargo bench --bench tsne` wrote (`points-N.f32`: N x D little-endian
float32, D in meta.json), runs scikit-learn's and openTSNE's t-SNE on them with the same
perplexity, seed and number of iterations, times each fit (affinities included), and scores
every embedding in the directory -- theirs and the ones the Rust side wrote (`NAME-N.f64`:
N x 2 little-endian float64) -- with one function: the exact KL(P || Q), P over
exact nearest neighbours (k = min(N - 1, floor(3 perplexity + 1))) calibrated by bisection,
symmetrised and normalised; Q the Student-t kernel over all pairs. Prints one JSON line.

    python benches/tsne_peer.py --input target/bench/tsne [--threads 2] [--sizes 2000] [--only-score]
"""

import argparse
import json
import os
import sys
import time

import numpy as np


def knn(x, k, block=1024):
    """Exact k nearest neighbours (squared distances, indices), ties by index."""
    n = x.shape[0]
    x = x.astype(np.float64)
    sq = (x * x).sum(1)
    dist = np.empty((n, k))
    idx = np.empty((n, k), dtype=np.int64)
    for s in range(0, n, block):
        e = min(n, s + block)
        d2 = sq[s:e, None] + sq[None, :] - 2.0 * x[s:e] @ x.T
        d2[np.arange(e - s), np.arange(s, e)] = np.inf
        np.maximum(d2, 0.0, out=d2)
        part = np.argpartition(d2, k, axis=1)[:, : k + 1]
        pd = np.take_along_axis(d2, part, 1)
        order = np.lexsort((part, pd), axis=1)[:, :k]
        idx[s:e] = np.take_along_axis(part, order, 1)
        dist[s:e] = np.take_along_axis(pd, order, 1)
    return dist, idx


def joint_p(x, perplexity):
    """Sparse symmetric P as (rows, cols, vals) arrays."""
    n = x.shape[0]
    k = min(n - 1, int(np.floor(3 * perplexity + 1)))
    dist, idx = knn(x, k)
    d = dist - dist[:, :1]
    target = np.log(perplexity)
    lo = np.full(n, -np.inf)
    hi = np.full(n, np.inf)
    beta = np.ones(n)
    for _ in range(200):
        p = np.exp(-beta[:, None] * d)
        s = p.sum(1)
        p /= s[:, None]
        h = beta * (d * p).sum(1) + np.log(s)
        diff = h - target
        if np.all(np.abs(diff) < 1e-5):
            break
        up = diff > 0
        lo = np.where(up, beta, lo)
        hi = np.where(up, hi, beta)
        beta = np.where(
            up,
            np.where(np.isfinite(hi), (beta + hi) / 2, beta * 2),
            np.where(np.isfinite(lo), (beta + lo) / 2, beta / 2),
        )
    rows = np.repeat(np.arange(n), k)
    cols = idx.ravel()
    vals = p.ravel()
    r = np.concatenate([rows, cols])
    c = np.concatenate([cols, rows])
    v = np.concatenate([vals, vals])
    key = r * n + c
    uniq, inv = np.unique(key, return_inverse=True)
    summed = np.bincount(inv, weights=v)
    summed /= summed.sum()
    return uniq // n, uniq % n, summed


def kl_divergence(p, y, block=1024):
    """Exact KL(P || Q) of embedding y (n x 2) for the sparse P."""
    rows, cols, vals = p
    y = y.astype(np.float64)
    n = y.shape[0]
    sq = (y * y).sum(1)
    z = 0.0
    for s in range(0, n, block):
        e = min(n, s + block)
        d2 = np.maximum(sq[s:e, None] + sq[None, :] - 2.0 * y[s:e] @ y.T, 0.0)
        w = 1.0 / (1.0 + d2)
        w[np.arange(e - s), np.arange(s, e)] = 0.0
        z += w.sum()
    diff = y[rows] - y[cols]
    q = 1.0 / (1.0 + (diff * diff).sum(1)) / z
    keep = vals > 0
    return float((vals[keep] * np.log(vals[keep] / q[keep])).sum())


def run_sklearn(x, perplexity, iterations, seed, threads):
    from sklearn.manifold import TSNE

    t, cpu = time.perf_counter(), time.process_time()
    model = TSNE(
        n_components=2,
        perplexity=perplexity,
        max_iter=iterations,
        init="random",
        learning_rate="auto",
        random_state=seed,
        method="barnes_hut",
        angle=0.5,
        n_jobs=threads,
    )
    y = model.fit_transform(x)
    return y, time.perf_counter() - t, time.process_time() - cpu, float(model.kl_divergence_)


def run_opentsne(x, perplexity, iterations, seed, threads):
    import openTSNE

    t, cpu = time.perf_counter(), time.process_time()
    model = openTSNE.TSNE(
        n_components=2,
        perplexity=perplexity,
        early_exaggeration_iter=250,
        n_iter=iterations - 250,
        initialization="random",
        random_state=seed,
        n_jobs=threads,
    )
    emb = model.fit(x)
    return np.asarray(emb), time.perf_counter() - t, time.process_time() - cpu, float(emb.kl_divergence)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--only-score", action="store_true", help="score the Rust embeddings only")
    ap.add_argument("--sizes", help="comma-separated subset of meta.json's sizes")
    args = ap.parse_args()
    meta = json.load(open(os.path.join(args.input, "meta.json")))
    perplexity, iterations, seed, dim = meta["perplexity"], meta["iterations"], meta["seed"], meta["dim"]
    import sklearn
    import openTSNE

    out = {
        "versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__, "openTSNE": openTSNE.__version__},
        "threads": args.threads,
        "sizes": {},
    }
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else meta["sizes"]
    for n in sizes:
        x = np.fromfile(os.path.join(args.input, f"points-{n}.f32"), dtype="<f4").reshape(n, dim)
        t = time.perf_counter()
        p = joint_p(x, perplexity)
        print(f"tsne peer: P for {n} points in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        results = {}
        for file in sorted(os.listdir(args.input)):
            if file.endswith(f"-{n}.f64"):
                y = np.fromfile(os.path.join(args.input, file), dtype="<f8").reshape(n, 2)
                results[file[: -len(f"-{n}.f64")]] = {"kl": kl_divergence(p, y)}
        if not args.only_score:
            for name, fn in [("scikit-learn", run_sklearn), ("openTSNE", run_opentsne)]:
                print(f"tsne peer: {name} on {n} points ...", file=sys.stderr)
                y, seconds, cpu, own = fn(x, perplexity, iterations, seed, args.threads)
                results[name] = {"seconds": seconds, "cpu_seconds": cpu, "kl": kl_divergence(p, y), "kl_reported": own}
                print(f"tsne peer: {name}: {seconds:.1f} s ({cpu:.1f} s CPU), KL {results[name]['kl']:.4f}", file=sys.stderr)
        out["sizes"][str(n)] = results
    print(json.dumps(out))


if __name__ == "__main__":
    main()

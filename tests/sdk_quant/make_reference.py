#!/usr/bin/python3
# Reference thresholds for test_sdk_quant: PaddleSlim's PTQ calibration (post_training_quantization.py,
# cal_kl_threshold.py) re-implemented in numpy, plus slimpipe's default (streamed) algorithms.
# Usage: make_reference.py OUT_DIR  -> OUT_DIR/<dataset>.f32 (all batches, row-major) and OUT_DIR/reference.json
import json
import math
import os
import sys

import numpy as np

B = 127  # 8 bit


# ---------------- Paddle (paddle_compat) ----------------------------------------------------------------
def paddle_abs_max(batches):
    return max(float(np.max(np.abs(x))) for x in batches)


def paddle_avg(batches):
    means = [float(np.mean(np.max(np.abs(x.reshape(x.shape[0], -1)), axis=1))) for x in batches]
    return float(np.array(means).mean())


def paddle_grid_search(batches, loss, onnx_format):
    best_loss, best_t = float("inf"), None
    for x in batches:
        v = x.flatten()
        a = float(np.max(np.abs(v)))
        a = 1e-8 if a == 0.0 else a
        s = 0.3
        while s <= 1.0:
            t = s * a
            s += 0.02
            if onnx_format:
                q = np.clip(np.round(v / t * B), -B - 1, B) / B * t
            else:
                q = np.round(np.clip(v, 0.0, t) / t * B) / B * t
            if loss == "mse":
                l = ((v - q) ** 2).mean()
            else:
                l = np.abs(np.mean(v) - np.mean(q)) + np.abs(np.std(v) - np.std(q))
            if l <= best_loss:
                best_loss, best_t = l, t
    return best_t


def paddle_histogram(batches, bins=2048):
    lo = min(float(np.min(np.abs(x))) for x in batches)
    hi = max(float(np.max(np.abs(x))) for x in batches)
    hist, edges = np.histogram([], bins=bins, range=(lo, hi))
    for x in batches:
        h, _ = np.histogram(np.abs(x), bins=edges)
        hist = hist + h
    return hist, float(edges[1] - edges[0])


def paddle_hist_threshold(hist, width, percent):
    p = hist / float(sum(hist))
    acc, index = 0, 0
    for i in range(len(p)):
        acc += p[i]
        if acc >= percent:
            index = i + 1
            break
    return (index - 0.5) * width


def kl_divergence(hist, i, target=127):
    p = hist[0:i].astype(np.int64).copy()
    p[i - 1] += np.sum(hist[i:])
    m = i // target
    q = np.zeros(i)
    for k in range(target):
        begin, end = k * m, (i if k == target - 1 else (k + 1) * m)
        nz = np.count_nonzero(p[begin:end])
        if nz:
            share = hist[begin:end].sum() / nz
            q[begin:end] = np.where(p[begin:end] != 0, share, 0.0)
    q_sum, p_sum = q.sum(), hist.sum()
    mask = p != 0
    pp, qq = p[mask].astype(np.float64), q[mask]
    return (np.sum(pp * np.log(q_sum * pp)) - np.sum(pp * np.log(p_sum * qq))) / p_sum


def kl_clip_bin(hist, first=None, include_last=False):
    n = len(hist)
    start = (n - 1) // 2 if first is None else first
    best, best_i = None, 0
    for i in range(start, n + 1 if include_last else n):
        if hist[i - 1] == 0:
            continue
        kl = kl_divergence(hist, i)
        if best is None or kl < best:
            best, best_i = kl, i
    if best is None:
        j = min(start, n - 1)
        while j > 0 and hist[j] == 0:
            j -= 1
        best_i = j
    return best_i


# ---------------- slimpipe default mode ------------------------------------------------------------------
def growing_histogram(batches, bins, signed):
    counts, hi = np.zeros(bins, dtype=np.int64), 0.0
    for x in batches:
        m = float(np.max(np.abs(x)))
        if hi == 0.0:
            hi = max(m, 1e-8)
        while m > hi:  # double the range, merge bin pairs
            merged = np.zeros(bins, dtype=np.int64)
            off = bins // 4 if signed else 0
            merged[off:off + bins // 2] = counts[0::2] + counts[1::2]
            counts, hi = merged, hi * 2
        lo = -hi if signed else 0.0
        v = x.astype(np.float64).ravel()
        v = v if signed else np.abs(v)
        idx = ((v - lo) * (bins / (hi - lo))).astype(np.int64)
        counts += np.bincount(np.clip(idx, 0, bins - 1), minlength=bins)
    return counts, hi


def default_kl(batches, bins=2048, first=128):
    # KL on |x|, or on one side's histogram when the other side lies inside the smallest candidate clip (bin
    # `first` of that side's histogram): histogram_observers.cpp, kl_histogram().
    hist, hi = growing_histogram(batches, bins, signed=False)
    x_min = min(float(x.min()) for x in batches)
    x_max = max(float(x.max()) for x in batches)
    pos = [x[x >= 0] for x in batches if np.any(x >= 0)]
    neg = [x[x < 0] for x in batches if np.any(x < 0)]
    if pos:
        pc, ph = growing_histogram(pos, bins, signed=False)
    if neg:
        nc, nh = growing_histogram(neg, bins, signed=False)
    if pos and -x_min <= first * (ph / bins):
        hist, hi = pc, ph
    elif neg and x_max <= first * (nh / bins):
        hist, hi = nc, nh
    return kl_clip_bin(hist, first=first, include_last=True) * (hi / bins)


def first_bin_reaching(counts, fraction):
    c = np.cumsum(counts / float(counts.sum()))
    hits = np.nonzero(c >= fraction)[0]
    return int(hits[0]) if len(hits) else len(counts) - 1


def default_grid_search(batches, loss, bins=16384):
    counts, hi = growing_histogram(batches, bins, signed=True)
    a = max(float(np.max(np.abs(x))) for x in batches)
    c = -hi + (np.arange(bins) + 0.5) * (2 * hi / bins)
    n = counts.sum()
    mean_x = np.sum(counts * c) / n
    std_x = math.sqrt(max(0.0, np.sum(counts * c * c) / n - mean_x ** 2))
    best, best_t = float("inf"), None
    for k in range(36):
        t = (0.30 + 0.02 * k) * a
        q = np.clip(np.round(c / t * B), -B - 1, B) / B * t
        if loss == "mse":
            l = np.sum(counts * (q - c) ** 2) / n
        else:
            mq = np.sum(counts * q) / n
            l = abs(mean_x - mq) + abs(std_x - math.sqrt(max(0.0, np.sum(counts * q * q) / n - mq ** 2)))
        if l <= best:
            best, best_t = l, t
    return best_t


def exact_mse_losses(batches):
    """MSE of the concatenated data for each of the 36 default candidates (to judge the histogram estimate)."""
    v = np.concatenate([x.ravel() for x in batches]).astype(np.float64)
    a = float(np.max(np.abs(v)))
    out = []
    for k in range(36):
        t = (0.30 + 0.02 * k) * a
        q = np.clip(np.round(v / t * B), -B - 1, B) / B * t
        out.append([t, float(np.mean((v - q) ** 2))])
    return out


def expected(batches):
    hist, w = paddle_histogram(batches)
    rows = sum(x.shape[0] for x in batches)
    row_sum = sum(float(np.max(np.abs(x.reshape(x.shape[0], -1)), axis=1).astype(np.float64).sum()) for x in batches)
    g, ghi = growing_histogram(batches, 2048, signed=False)
    gw = ghi / 2048
    return {
        "paddle": {
            "abs_max": paddle_abs_max(batches),
            "min_max": max(-min(float(x.min()) for x in batches), max(float(x.max()) for x in batches)),
            "avg": paddle_avg(batches),
            "mse": paddle_grid_search(batches, "mse", True),
            "mse_legacy": paddle_grid_search(batches, "mse", False),
            "emd": paddle_grid_search(batches, "emd", True),
            "hist": paddle_hist_threshold(hist, w, 0.9999),
            "hist_99999": paddle_hist_threshold(hist, w, 0.99999),
            "KL": (kl_clip_bin(hist) + 0.5) * w,
        },
        "default": {
            "avg": row_sum / rows,
            "hist": (first_bin_reaching(g, 0.9999) + 0.5) * gw,
            "KL": default_kl(batches),
            "percentile": first_bin_reaching(g, 0.9999) * gw,
            "mse": default_grid_search(batches, "mse"),
            "emd": default_grid_search(batches, "emd"),
            "mse_exact_losses": exact_mse_losses(batches),
            "hist_hi": ghi,
        },
    }


def datasets():
    rng = np.random.default_rng(20240611)
    out = {}
    # Gaussian activations with a few outliers, 5 equal batches.
    g = [rng.standard_normal((4, 16, 64)).astype(np.float32) for _ in range(5)]
    g[1].flat[7] = 9.0
    g[3].flat[100] = -11.5
    out["gaussian_outliers"] = g
    # GELU outputs (FFN2 input: heavy positive tail), unequal batches: 4, 4, 1 rows, growing range.
    def gelu(z):
        return (0.5 * z * (1 + np.tanh(0.7978845608 * (z + 0.044715 * z ** 3)))).astype(np.float32)
    out["gelu_unequal"] = [gelu(rng.standard_normal((r, 8, 96)) * s) for r, s in ((4, 1.0), (4, 2.5), (1, 4.0))]
    # Attention probabilities: softmax over the last axis, 3 batches of [2, 4, 16, 16].
    def softmax(z):
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
    out["softmax_probs"] = [softmax(rng.standard_normal((2, 4, 16, 16)) * 3) for _ in range(3)]
    # Batch size 1: eight [1, 32, 48] batches of a Laplace distribution.
    out["laplace_bs1"] = [rng.laplace(size=(1, 32, 48)).astype(np.float32) for _ in range(8)]
    return out


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    ref = {}
    for name, batches in datasets().items():
        path = os.path.join(out_dir, name + ".f32")
        with open(path, "wb") as f:
            for x in batches:
                f.write(np.ascontiguousarray(x, dtype=np.float32).tobytes())
        ref[name] = {"file": path, "shapes": [list(x.shape) for x in batches], "expected": expected(batches)}
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)


if __name__ == "__main__":
    main()

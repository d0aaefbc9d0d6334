#!/usr/bin/python3
# Times torch.ao.quantization.HistogramObserver over the batches quant_bench generates (same seed, same
# generator, so the same tensors: the checksum proves it). Prints one JSON line.
import argparse
import json
import time

import torch
from torch.ao.quantization import HistogramObserver

p = argparse.ArgumentParser()
p.add_argument("--shape", required=True)
p.add_argument("--batches", type=int, required=True)
p.add_argument("--threads", type=int, default=1)
a = p.parse_args()
shape = [int(s) for s in a.shape.split(",")]
torch.set_num_threads(a.threads)
obs = HistogramObserver(bins=2048, qscheme=torch.per_tensor_symmetric)
elapsed, checksum = 0.0, 0.0
for b in range(a.batches):
    torch.manual_seed(1000 + b)
    x = torch.randn(shape)
    checksum += float(x[..., :4].sum())
    t0 = time.perf_counter()
    obs(x)
    elapsed += time.perf_counter() - t0
t0 = time.perf_counter()
scale, _ = obs.calculate_qparams()
elapsed += time.perf_counter() - t0
print(json.dumps({"seconds": elapsed, "threshold": float(scale) * 127.5, "checksum": checksum}))

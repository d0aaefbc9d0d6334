# The Python half of train_step_bench: the same BERT training step (forward, backward, clip, AdamW)
# in PyTorch (torch.nn only), timed the same way. Prints "python_ms_per_step <ms>".
import argparse
import math
import time

import torch
from torch import nn


class Layer(nn.Module):
    def __init__(self, h, heads, ffn, p):
        super().__init__()
        self.heads, self.dh = heads, h // heads
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.attn_dropout = nn.Dropout(p)
        self.attn_out, self.attn_ln, self.attn_drop = nn.Linear(h, h), nn.LayerNorm(h, eps=1e-12), nn.Dropout(p)
        self.inter, self.out, self.out_ln, self.out_drop = nn.Linear(h, ffn), nn.Linear(ffn, h), nn.LayerNorm(h, eps=1e-12), nn.Dropout(p)

    def split(self, x):
        b, s, _ = x.shape
        return x.view(b, s, self.heads, self.dh).permute(0, 2, 1, 3)

    def forward(self, x, mask):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.dh) + mask
        ctx = self.attn_dropout(scores.softmax(-1)) @ v
        ctx = ctx.permute(0, 2, 1, 3).reshape(x.shape)
        x = self.attn_ln(self.attn_drop(self.attn_out(ctx)) + x)
        return self.out_ln(self.out_drop(self.out(nn.functional.gelu(self.inter(x)))) + x)


class Bert(nn.Module):
    def __init__(self, vocab, h, layers, heads, ffn, labels, p=0.1):
        super().__init__()
        self.word, self.pos, self.token_type = nn.Embedding(vocab, h), nn.Embedding(512, h), nn.Embedding(2, h)
        self.emb_ln, self.emb_drop = nn.LayerNorm(h, eps=1e-12), nn.Dropout(p)
        self.layers = nn.ModuleList(Layer(h, heads, ffn, p) for _ in range(layers))
        self.pooler, self.drop, self.classifier = nn.Linear(h, h), nn.Dropout(p), nn.Linear(h, labels)

    def forward(self, ids, mask):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.emb_drop(self.emb_ln(self.word(ids) + self.pos(pos) + self.token_type(torch.zeros_like(ids))))
        add_mask = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, add_mask)
        return self.classifier(self.drop(torch.tanh(self.pooler(x[:, 0]))))


def main():
    ap = argparse.ArgumentParser()
    for name, default in [("batch", 32), ("seq", 128), ("layers", 4), ("hidden", 256), ("heads", 4), ("ffn", 1024),
                          ("vocab", 30522), ("threads", 2), ("warmup", 3), ("steps", 10)]:
        ap.add_argument("--" + name, type=int, default=default)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Bert(a.vocab, a.hidden, a.layers, a.heads, a.ffn, 2)
    model.train()
    no_decay = ["bias", "LayerNorm.weight", "_ln.weight"]
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)], "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    ids = torch.randint(0, a.vocab, (a.batch, a.seq))
    mask = torch.ones(a.batch, a.seq, dtype=torch.long)
    labels = torch.randint(0, 2, (a.batch,))

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(ids, mask), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    ms = (time.perf_counter() - t0) * 1000.0 / a.steps
    print("python_ms_per_step %.3f torch %s threads %d" % (ms, torch.__version__, torch.get_num_threads()))


if __name__ == "__main__":
    main()

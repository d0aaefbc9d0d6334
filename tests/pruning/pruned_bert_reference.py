# Independent reference for pruned BERT checkpoints: builds a BERT in plain torch.nn from config.json,
# honouring pruned_heads (fewer heads per layer, head_dim of the unpruned model) and the FFN width, loads
# model.safetensors (read by hand), runs it and writes the logits.
#
# Usage: /usr/bin/python3 pruned_bert_reference.py MODEL_DIR INPUTS.safetensors OUT.safetensors
# INPUTS holds input_ids, token_type_ids, attention_mask (int64); OUT gets logits (float32).
import json
import math
import struct
import sys

import torch
from torch import nn

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=DTYPES[info["dtype"]]) if end > begin else torch.zeros(0)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        b = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def act(name, x):
    if name == "gelu":
        return nn.functional.gelu(x)
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))
    return torch.relu(x)


class Layer(nn.Module):
    def __init__(self, c, heads, ffn):
        super().__init__()
        d, self.head_dim, self.heads, self.act = c["hidden_size"], c["hidden_size"] // c["num_attention_heads"], heads, c["hidden_act"]
        a = heads * self.head_dim
        eps = c.get("layer_norm_eps", 1e-12)
        self.q, self.k, self.v, self.o = nn.Linear(d, a), nn.Linear(d, a), nn.Linear(d, a), nn.Linear(a, d)
        self.ln1, self.ln2 = nn.LayerNorm(d, eps=eps), nn.LayerNorm(d, eps=eps)
        self.f1, self.f2 = nn.Linear(d, ffn), nn.Linear(ffn, d)

    def forward(self, x, mask):
        b, s, _ = x.shape
        split = lambda t: t.view(b, s, self.heads, self.head_dim).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + mask, dim=-1)
        ctx = (p @ v).transpose(1, 2).reshape(b, s, self.heads * self.head_dim)
        x = self.ln1(self.o(ctx) + x)
        return self.ln2(self.f2(act(self.act, self.f1(x))) + x)


class Bert(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, L = c["hidden_size"], c["num_hidden_layers"]
        self.word, self.pos, self.types = nn.Embedding(c["vocab_size"], d), nn.Embedding(c["max_position_embeddings"], d), nn.Embedding(c["type_vocab_size"], d)
        self.ln = nn.LayerNorm(d, eps=c.get("layer_norm_eps", 1e-12))
        pruned = {int(k): v for k, v in (c.get("pruned_heads") or {}).items()}
        ffn = c.get("layer_intermediate_sizes") or [c["intermediate_size"]] * L
        self.layers = nn.ModuleList(Layer(c, c["num_attention_heads"] - len(set(pruned.get(i, []))), ffn[i]) for i in range(L))
        arch = c["architectures"][0]
        self.kind = "seq" if arch.endswith("SequenceClassification") else "tok" if arch.endswith("TokenClassification") else "qa"
        self.pooler = nn.Linear(d, d) if self.kind == "seq" else None
        # transformers derives num_labels from id2label (config.json need not hold num_labels).
        labels = len(c["id2label"]) if c.get("id2label") else c.get("num_labels", 2)
        self.head = nn.Linear(d, 2 if self.kind == "qa" else labels)

    def load(self, w, prefix):
        def put(mod, key):
            mod.weight.data.copy_(w[key + ".weight"])
            mod.bias.data.copy_(w[key + ".bias"]) if hasattr(mod, "bias") and mod.bias is not None else None
        self.word.weight.data.copy_(w[prefix + "embeddings.word_embeddings.weight"])
        self.pos.weight.data.copy_(w[prefix + "embeddings.position_embeddings.weight"])
        self.types.weight.data.copy_(w[prefix + "embeddings.token_type_embeddings.weight"])
        put(self.ln, prefix + "embeddings.LayerNorm")
        for i, l in enumerate(self.layers):
            p = prefix + "encoder.layer.%d." % i
            for mod, key in ((l.q, "attention.self.query"), (l.k, "attention.self.key"), (l.v, "attention.self.value"),
                             (l.o, "attention.output.dense"), (l.ln1, "attention.output.LayerNorm"),
                             (l.f1, "intermediate.dense"), (l.f2, "output.dense"), (l.ln2, "output.LayerNorm")):
                put(mod, p + key)
        if self.pooler is not None:
            put(self.pooler, prefix + "pooler.dense")
        put(self.head, "qa_outputs" if self.kind == "qa" else "classifier")

    def forward(self, ids, types, mask):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.ln(self.word(ids) + self.pos(pos) + self.types(types))
        m = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for l in self.layers:
            x = l(x, m)
        if self.kind == "seq":
            return self.head(torch.tanh(self.pooler(x[:, 0])))
        return self.head(x)


def main():
    model_dir, inputs_path, out_path = sys.argv[1:4]
    with open(model_dir + "/config.json") as f:
        c = json.load(f)
    w = read_safetensors(model_dir + "/model.safetensors")
    prefix = "ernie." if c.get("model_type") == "ernie" else "bert."
    model = Bert(c)
    model.load(w, prefix)
    model.eval()
    inp = read_safetensors(inputs_path)
    with torch.no_grad():
        logits = model(inp["input_ids"], inp["token_type_ids"], inp["attention_mask"])
    write_safetensors(out_path, {"logits": logits.float()})


if __name__ == "__main__":
    main()

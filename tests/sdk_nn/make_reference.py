# Reference BERT / ERNIE in plain torch.nn with transformers' key names and math (transformers ~4.2x eager path),
# used by test_sdk_nn: writes tiny checkpoints (safetensors by hand, torch.save .bin) plus inputs and logits.
#
# Usage: /usr/bin/python3 make_reference.py OUT_DIR
# For each case OUT_DIR/<case>/ holds st/ (config.json + model.safetensors), bin/ (config.json +
# pytorch_model.bin) and reference.safetensors (input_ids, token_type_ids, attention_mask, [task_type_ids],
# logits, tap_0 .. tap_L = embedding output and every layer's output).
import collections
import json
import math
import os
import struct
import sys

import torch
from torch import nn


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


ACT = {"gelu": nn.functional.gelu, "gelu_new": gelu_new, "relu": nn.functional.relu}


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden_size"]
        self.use_task_id = c.get("use_task_id", False)
        self.word_embeddings = nn.Embedding(c["vocab_size"], h, padding_idx=c["pad_token_id"])
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], h)
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], h)
        if self.use_task_id:
            self.task_type_embeddings = nn.Embedding(c["task_type_vocab_size"], h)
        self.LayerNorm = nn.LayerNorm(h, eps=c["layer_norm_eps"])
        # transformers <= 4.30 stores this buffer in checkpoints; slimpipe must ignore it.
        self.register_buffer("position_ids", torch.arange(c["max_position_embeddings"]).expand((1, -1)))

    def forward(self, input_ids, token_type_ids, task_type_ids):
        seq = input_ids.shape[1]
        emb = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        if self.use_task_id:
            emb = emb + self.task_type_embeddings(task_type_ids)
        emb += self.position_embeddings(self.position_ids[:, :seq])
        return self.LayerNorm(emb)


def prune_linear_layer(layer, index, dim):
    # transformers.pytorch_utils.prune_linear_layer
    w = layer.weight.index_select(dim, index).clone().detach()
    b = layer.bias.clone().detach() if dim == 1 else layer.bias[index].clone().detach()
    new_size = list(layer.weight.size())
    new_size[dim] = len(index)
    new = nn.Linear(new_size[1], new_size[0])
    with torch.no_grad():
        new.weight.copy_(w)
        new.bias.copy_(b)
    return new


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.num_attention_heads = c["num_attention_heads"]
        self.attention_head_size = c["hidden_size"] // c["num_attention_heads"]
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        h = c["hidden_size"]
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)

    def split(self, x):
        return x.view(x.size()[:-1] + (self.num_attention_heads, self.attention_head_size)).permute(0, 2, 1, 3)

    def forward(self, hidden, mask, head_mask):
        q, k, v = self.split(self.query(hidden)), self.split(self.key(hidden)), self.split(self.value(hidden))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.attention_head_size)
        scores = scores + mask
        probs = nn.functional.softmax(scores, dim=-1)
        if head_mask is not None:
            probs = probs * head_mask
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(ctx.size()[:-2] + (self.all_head_size,))


class SelfOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = SelfAttention(c)
        self.output = SelfOutput(c)

    def prune_heads(self, heads):
        # transformers' BertAttention.prune_heads with find_pruneable_heads_and_indices (fresh layer)
        s = self.self
        mask = torch.ones(s.num_attention_heads, s.attention_head_size)
        for head in heads:
            mask[head] = 0
        index = torch.arange(len(mask.view(-1)))[mask.view(-1).eq(1)].long()
        s.query = prune_linear_layer(s.query, index, 0)
        s.key = prune_linear_layer(s.key, index, 0)
        s.value = prune_linear_layer(s.value, index, 0)
        self.output.dense = prune_linear_layer(self.output.dense, index, 1)
        s.num_attention_heads -= len(heads)
        s.all_head_size = s.attention_head_size * s.num_attention_heads

    def forward(self, hidden, mask, head_mask):
        return self.output(self.self(hidden, mask, head_mask), hidden)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.act = ACT[c["hidden_act"]]
        self.attention = Attention(c)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])
        self.output = nn.Module()
        self.output.dense = nn.Linear(c["intermediate_size"], c["hidden_size"])
        self.output.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, hidden, mask, head_mask):
        a = self.attention(hidden, mask, head_mask)
        i = self.act(self.intermediate.dense(a))
        return self.output.LayerNorm(self.output.dense(i) + a)


class Model(nn.Module):  # BertModel / ErnieModel
    def __init__(self, c, add_pooling_layer=True):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])
        if add_pooling_layer:
            self.pooler = nn.Module()
            self.pooler.dense = nn.Linear(c["hidden_size"], c["hidden_size"])
        else:
            self.pooler = None

    def forward(self, input_ids, token_type_ids, attention_mask, task_type_ids):
        ext = attention_mask[:, None, None, :].to(torch.float32)
        ext = (1.0 - ext) * torch.finfo(torch.float32).min
        x = self.embeddings(input_ids, token_type_ids, task_type_ids)
        taps = [x]
        for layer in self.encoder.layer:
            x = layer(x, ext, None)
            taps.append(x)
        pooled = torch.tanh(self.pooler.dense(x[:, 0])) if self.pooler is not None else None
        return x, pooled, taps


class TaskModel(nn.Module):
    def __init__(self, c, head):
        super().__init__()
        self.head = head
        self.prefix = c["model_type"]
        setattr(self, self.prefix, Model(c, add_pooling_layer=head in ("seq_cls", "none")))
        if head in ("seq_cls", "token_cls"):
            self.classifier = nn.Linear(c["hidden_size"], len(c.get("id2label") or {"0": 0, "1": 1}))
        if head == "qa":
            self.qa_outputs = nn.Linear(c["hidden_size"], 2)

    def forward(self, *inputs):
        seq, pooled, taps = getattr(self, self.prefix)(*inputs)
        if self.head == "seq_cls":
            return self.classifier(pooled), taps
        if self.head == "token_cls":
            return self.classifier(seq), taps
        if self.head == "qa":
            return self.qa_outputs(seq), taps
        return pooled, taps


DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}


def save_safetensors(path, tensors):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def randomize(model, gen):
    # Larger than BERT's 0.02 init so logits are O(1) and a wrong op is far outside the 1e-5 tolerance.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif "embeddings" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))


def base_config(**over):
    c = {
        "architectures": None, "model_type": "bert", "vocab_size": 100, "hidden_size": 32,
        "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 64,
        "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "position_embedding_type": "absolute", "use_cache": True, "classifier_dropout": None,
        "transformers_version": "4.26.1", "torch_dtype": "float32",
    }
    c.update(over)
    return c


def write_case(out, name, config, head, seed, pruned_heads=None, weight_dtype=None, gamma_beta_bin=False,
               legacy_bin=False):
    gen = torch.Generator().manual_seed(seed)
    model = TaskModel(config, head).eval()
    randomize(model, gen)
    if pruned_heads:
        for layer, heads in pruned_heads.items():
            getattr(model, config["model_type"]).encoder.layer[layer].attention.prune_heads(heads)
        config = dict(config, pruned_heads={str(k): v for k, v in pruned_heads.items()})
    if weight_dtype is not None:  # the file stores rounded weights; the reference computes with the same values
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.to(weight_dtype).to(torch.float32))

    batch, seq = 2, 7
    input_ids = torch.randint(1, config["vocab_size"], (batch, seq), generator=gen)
    token_type_ids = torch.tensor([[0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1, 1]])
    attention_mask = torch.tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0]])
    task_type_ids = torch.tensor([[1] * seq, [2] * seq]) if config.get("use_task_id") else torch.zeros_like(input_ids)
    input_ids[1, 5:] = 0
    with torch.no_grad():
        logits, taps = model(input_ids, token_type_ids, attention_mask, task_type_ids)

    case = os.path.join(out, name)
    for sub in ("st", "bin"):
        os.makedirs(os.path.join(case, sub), exist_ok=True)
        with open(os.path.join(case, sub, "config.json"), "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
    # A bare BertModel checkpoint has no "bert." prefix.
    state = (getattr(model, config["model_type"]) if head == "none" else model).state_dict()
    stored = collections.OrderedDict(
        (k, v.to(weight_dtype) if weight_dtype is not None and v.is_floating_point() else v) for k, v in state.items())
    save_safetensors(os.path.join(case, "st", "model.safetensors"), stored)
    if gamma_beta_bin:  # TensorFlow-era names
        renamed = collections.OrderedDict()
        for k, v in stored.items():
            k = k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
            renamed[k] = v
        renamed._metadata = state._metadata
        stored = renamed
    torch.save(stored, os.path.join(case, "bin", "pytorch_model.bin"), _use_new_zipfile_serialization=not legacy_bin)

    ref = collections.OrderedDict(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask)
    if config.get("use_task_id"):
        ref["task_type_ids"] = task_type_ids
    ref["logits"] = logits
    for i, t in enumerate(taps):
        ref["tap_%d" % i] = t
    save_safetensors(os.path.join(case, "reference.safetensors"), ref)


def main():
    out = sys.argv[1]
    labels3 = {"id2label": {"0": "neg", "1": "neu", "2": "pos"}, "label2id": {"neg": 0, "neu": 1, "pos": 2}}
    write_case(out, "seq_cls", base_config(architectures=["BertForSequenceClassification"], **labels3),
               "seq_cls", seed=1)
    labels5 = {"id2label": {str(i): "L%d" % i for i in range(5)}, "label2id": {"L%d" % i: i for i in range(5)}}
    write_case(out, "token_cls", base_config(architectures=["BertForTokenClassification"], hidden_act="gelu_new",
                                             **labels5), "token_cls", seed=2, gamma_beta_bin=True)
    write_case(out, "qa_ernie", base_config(architectures=["ErnieForQuestionAnswering"], model_type="ernie",
                                            hidden_act="relu", use_task_id=True, task_type_vocab_size=3,
                                            type_vocab_size=4),
               "qa", seed=3, legacy_bin=True)
    write_case(out, "pruned", base_config(architectures=["BertForSequenceClassification"], intermediate_size=48,
                                          **labels3), "seq_cls", seed=4, pruned_heads={0: [1], 1: [0, 3]})
    write_case(out, "bare_bf16", base_config(architectures=["BertModel"]), "none", seed=5,
               weight_dtype=torch.bfloat16)


if __name__ == "__main__":
    main()

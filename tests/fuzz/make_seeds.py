#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/: a handful of small valid inputs
each, so that libFuzzer starts from files that get past the first checks. Deterministic; rerun it after changing
an input format and commit the result. Only the pytorch_model.bin seeds need Python's torch (Debian:
python3-torch, run this with /usr/bin/python3); without it they are left as they are.

Multi-file inputs join their files with SEP (tests/fuzz/fuzz_common.hpp: kFileSeparator)."""
import json
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
SEP = b"\n=====\n"


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- safetensors -----------------------------------------------------------------------------------------------
def safetensors(tensors, metadata=None):
    """tensors: [(name, dtype, shape, raw bytes)]"""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def floats(n, seed, fmt="<f"):
    r = random.Random(seed)
    return b"".join(struct.pack(fmt, r.uniform(-1, 1)) for _ in range(n))


def seeds_safetensors():
    t = "fuzz_safetensors"
    write(t, "f32_matrix", safetensors([("bert.encoder.layer.0.output.dense.weight", "F32", [2, 3], floats(6, 1))],
                                       {"format": "pt"}))
    write(t, "dtypes", safetensors([
        ("a.f16", "F16", [3], floats(3, 2, "<e")),
        ("b.bf16", "BF16", [2], b"\x80\x3f\x00\x40"),
        ("c.i64", "I64", [2], struct.pack("<qq", -1, 7)),
        ("d.bool", "BOOL", [3], b"\x01\x00\x01"),
        ("e.u8", "U8", [1, 2], b"\x00\xff"),
        ("f.f64", "F64", [1], struct.pack("<d", 0.5)),
        ("g.i32", "I32", [1], struct.pack("<i", -3)),
        ("h.i16", "I16", [1], struct.pack("<h", 300)),
        ("i.i8", "I8", [2], b"\x80\x7f"),
    ], {"format": "pt"}))
    write(t, "empty_and_scalar", safetensors([("empty", "F32", [0, 4], b""), ("scalar", "F32", [], floats(1, 3))]))
    write(t, "no_tensors", safetensors([], {"format": "pt", "note": "only metadata"}))


# --- pytorch_model.bin -----------------------------------------------------------------------------------------
def seeds_pytorch_bin():
    try:
        import collections
        import io
        import torch
    except ImportError:
        print("make_seeds: no torch in this Python, pytorch_model.bin seeds left as they are", file=sys.stderr)
        return
    t = "fuzz_pytorch_bin"
    torch.manual_seed(0)
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    sd = collections.OrderedDict()
    sd["bert.embeddings.word_embeddings.weight"] = base
    sd["bert.pooler.dense.bias"] = base[1]             # a view into the same storage, at an offset
    sd["classifier.weight"] = base.t()                  # strided view
    sd["position_ids"] = torch.arange(4, dtype=torch.int64).unsqueeze(0)
    sd["half"] = torch.tensor([1.5, -2.0], dtype=torch.float16)
    sd["mask"] = torch.tensor([True, False])
    for name, zipfmt in (("zip_state_dict", True), ("legacy_state_dict", False)):
        buf = io.BytesIO()
        torch.save(sd, buf, _use_new_zipfile_serialization=zipfmt)
        write(t, name, buf.getvalue())
    small = {"w": torch.ones(2, dtype=torch.float64), "i": torch.tensor([3], dtype=torch.int32), "n": 5}
    for name, zipfmt in (("zip_dict_with_int", True), ("legacy_dict_with_int", False)):
        buf = io.BytesIO()
        torch.save(small, buf, _use_new_zipfile_serialization=zipfmt)
        write(t, name, buf.getvalue())
    buf = io.BytesIO()
    torch.save(collections.OrderedDict(), buf, _use_new_zipfile_serialization=False)
    write(t, "legacy_empty", buf.getvalue())


# --- config.json -----------------------------------------------------------------------------------------------
def seeds_config_json():
    t = "fuzz_config_json"
    bert = {"architectures": ["BertForSequenceClassification"], "model_type": "bert", "vocab_size": 30522,
            "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
            "hidden_act": "gelu", "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
            "pad_token_id": 0, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
            "classifier_dropout": None, "transformers_version": "4.30.2", "torch_dtype": "float32",
            "position_embedding_type": "absolute", "id2label": {"0": "negative", "1": "positive"},
            "label2id": {"negative": 0, "positive": 1}}
    write(t, "bert_seq_cls.json", json.dumps(bert, indent=2))
    ernie = {"architectures": ["ErnieForTokenClassification"], "model_type": "ernie", "vocab_size": 40000,
             "hidden_size": 312, "num_hidden_layers": 4, "num_attention_heads": 12, "intermediate_size": 1248,
             "hidden_act": "gelu_new", "max_position_embeddings": 2048, "type_vocab_size": 4,
             "task_type_vocab_size": 16, "use_task_id": True, "num_labels": 5, "layer_norm_eps": 1e-5}
    write(t, "ernie_token_cls.json", json.dumps(ernie))
    pruned = {"model_type": "bert", "vocab_size": 64, "hidden_size": 8, "num_hidden_layers": 3,
              "num_attention_heads": 4, "intermediate_size": 16, "hidden_act": "relu",
              "pruned_heads": {"0": [1, 3], "2": [0]}, "layer_intermediate_sizes": [12, 16, 4],
              "architectures": ["BertForQuestionAnswering"], "num_labels": 2}
    write(t, "pruned_qa.json", json.dumps(pruned))
    write(t, "minimal.json", "{}")


# --- data readers: first byte = reader (see fuzz_data_readers.cpp) ---------------------------------------------
def seeds_data_readers():
    t = "fuzz_data_readers"
    write(t, "tsv_header", b"\x00" + "sentence\tlabel\nit 's a charming journey . \t1\n\nbleak and desperate\t0\n".encode())
    write(t, "tsv_pairs_no_header", b"\x48" + "A man sleeps .\tA person rests .\tentailment\nfine\tok\tneutral\n"
          .replace("\tentailment", "\t1").encode())
    write(t, "csv_quoted", b"\x01" + 'text,label\n"He said ""hi"", then left",positive\n"two\nlines",negative\n'.encode())
    write(t, "csv_closed_labels", b"\x11" + "sentence1,sentence2,label\nA,B,0\nC,,1\n".encode())
    write(t, "jsonl", b"\x02" + '{"text": "good film", "label": "1"}\n{"sentence1": "é 中文", "sentence2": "x", "label": 0}\n'.encode())
    write(t, "clue", b"\x03" + '{"sentence": "今天天气很好", "label": "positive"}\n{"sentence": "no label"}\n'.encode())
    write(t, "clue_unlabelled", b"\x23" + '{"sentence": "test row"}\n'.encode())
    write(t, "conll", b"\x04" + "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n".encode())
    write(t, "conll_two_columns_closed", b"\x1c" + "John B-PER\nSmith I-PER\nin O\nParis B-LOC\n".encode())
    write(t, "token_jsonl", b"\x05" + '{"tokens": ["EU", "rejects"], "labels": ["B-ORG", "O"]}\n{"tokens": ["a"], "ner_tags": [0]}\n'.encode())
    squad = {"version": "1.1", "data": [{"title": "T", "paragraphs": [
        {"context": "Denver Broncos won in 2016. Café ☕ crème.",
         "qas": [{"id": "q1", "question": "Who won?", "answers": [{"text": "Denver Broncos", "answer_start": 0}]},
                 {"id": "q2", "question": "What?", "answers": [{"text": "crème", "answer_start": 35}]}]}]}]}
    write(t, "squad", b"\x06" + json.dumps(squad, ensure_ascii=False).encode())
    squad_test = {"data": [{"title": "", "paragraphs": [{"context": "abc", "qas": [{"id": "t", "question": "?"}]}]}]}
    write(t, "squad_no_answers", b"\x27" + json.dumps(squad_test).encode())


# --- tokenizer folder: 2 option bytes, vocab.txt SEP tokenizer_config.json SEP text [SEP text] -----------------
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "un", "##aff", "##able", "a", "##b", "café", "中",
         "文", ",", ".", "!", "hello", "world", "##s", "é", "##é"]


def seeds_vocab():
    t = "fuzz_vocab"
    vocab = "\n".join(VOCAB).encode() + b"\n"
    cfg = json.dumps({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 512,
                      "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                      "mask_token": "[MASK]"}).encode()
    write(t, "single", b"\x00\x00" + vocab + SEP + cfg + SEP + "Hello, unaffable World! Café 中文".encode())
    write(t, "pair_truncated_overflow", b"\x55\x0c" + vocab + SEP + cfg + SEP + b"the the the a ab abb" + SEP +
          b"hello worlds hello worlds")
    cased = json.dumps({"do_lower_case": False, "strip_accents": False, "tokenize_chinese_chars": False,
                        "max_input_chars_per_word": 5, "model_max_length": 1000000000000000019884624838656}).encode()
    write(t, "cased_no_lowercase", b"\x29\x08" + vocab + SEP + cased + SEP + "Café\u00e9 HELLO\tworld\u200b中文".encode())
    write(t, "vocab_only", b"\x00\x00" + "[UNK]\r\n[CLS]\r\n[SEP]\r\n[PAD]\r\n[MASK]\r\nx\r\n".encode())
    write(t, "no_config", b"\x08\x05" + vocab + SEP + SEP + b"a b c d e f g")


# --- runtime folder: option byte, runtime.json SEP weights.bin -------------------------------------------------
def runtime_model(head="seq_cls", precision="fp32", act="gelu", seed=0):
    H, heads, d, inter, vocab, maxpos, types = 4, 2, 2, 8, 8, 4, 2
    labels = 2 if head != "token_cls" else 3
    r = random.Random(seed)
    tensors, weights = [], bytearray()
    int8 = precision == "int8"

    def add(name, dtype, shape, raw):
        off = (len(weights) + 63) // 64 * 64
        weights.extend(b"\0" * (off - len(weights)))
        weights.extend(raw)
        tensors.append({"name": name, "dtype": dtype, "shape": shape, "offset": off, "bytes": len(raw)})

    def f32(name, shape, scale=0.5, const=None):
        n = 1
        for s in shape:
            n *= s
        vals = [const if const is not None else r.uniform(-scale, scale) for _ in range(n)]
        add(name, "f32", shape, struct.pack("<%df" % n, *vals))

    sites = {}

    def linear(site, inp, out):
        if int8:
            add(site + ".weight", "i8", [out, inp], bytes(r.randrange(256) for _ in range(out * inp)))
            f32(site + ".weight_threshold", [out], const=0.25)
            sites[site] = {"weight": "per_channel", "input_threshold": 2.0}
        else:
            f32(site + ".weight", [out, inp])
        f32(site + ".bias", [out], 0.1)

    if int8:
        n = vocab * H
        add("embeddings.word_embeddings.weight", "f16", [vocab, H],
            struct.pack("<%de" % n, *[r.uniform(-1, 1) for _ in range(n)]))
    else:
        f32("embeddings.word_embeddings.weight", [vocab, H])
    f32("embeddings.position_embeddings.weight", [maxpos, H])
    f32("embeddings.token_type_embeddings.weight", [types, H])
    f32("embeddings.LayerNorm.weight", [H], const=1.0)
    f32("embeddings.LayerNorm.bias", [H], const=0.0)
    p = "encoder.layer.0."
    for n in ("query", "key", "value"):
        linear(p + "attention.self." + n, H, heads * d)
    if int8:
        sites[p + "attention.self.qk"] = {"left_threshold": 3.0, "right_threshold": 3.0}
        sites[p + "attention.self.pv"] = {"left_threshold": 1.0, "right_threshold": 3.0}
    linear(p + "attention.output.dense", heads * d, H)
    f32(p + "attention.output.LayerNorm.weight", [H], const=1.0)
    f32(p + "attention.output.LayerNorm.bias", [H], const=0.0)
    linear(p + "intermediate.dense", H, inter)
    linear(p + "output.dense", inter, H)
    f32(p + "output.LayerNorm.weight", [H], const=1.0)
    f32(p + "output.LayerNorm.bias", [H], const=0.0)
    if head == "seq_cls":
        linear("pooler.dense", H, H)
        linear("classifier", H, labels)
    elif head == "token_cls":
        linear("classifier", H, labels)
    else:
        linear("qa_outputs", H, 2)
    meta = {"format": "slimpipe-runtime", "version": 1, "precision": precision, "model_type": "bert", "head": head,
            "num_labels": labels, "vocab_size": vocab, "hidden_size": H, "head_dim": d, "num_hidden_layers": 1,
            "max_position_embeddings": maxpos, "type_vocab_size": types, "hidden_act": act, "layer_norm_eps": 1e-12,
            "use_task_id": False, "layers": [{"num_heads": heads, "intermediate_size": inter}],
            "weights_file": "weights.bin", "weights_bytes": len(weights), "tensors": tensors}
    if int8:
        meta["quant"] = {"bits": 8, "range": [-128, 127], "rounding": "half_to_even", "sites": sites}
    return json.dumps(meta, separators=(",", ":")).encode() + SEP + bytes(weights)


def seeds_runtime_model():
    t = "fuzz_runtime_model"
    write(t, "fp32_seq_cls", b"\x00" + runtime_model())
    write(t, "fp32_qa_gelu_new_onednn", b"\x01" + runtime_model("qa", act="gelu_new", seed=2))
    write(t, "int8_token_cls_relu_portable", b"\x02" + runtime_model("token_cls", precision="int8", act="relu", seed=4))


# --- pipelines (TOML; "#@set" / "#@env" lines, see fuzz_pipeline.cpp) -------------------------------------------
def seeds_pipeline():
    t = "fuzz_pipeline"
    write(t, "quickstart.toml", """\
[pipeline]
name = "quickstart"
output_dir = "runs/${SLIMPIPE_FUZZ_ENV:-quick}"
max_parallel = 2
seed = 7

[model]
path = "models/bert-tiny"

[task]
type = "seq_cls"
source = "synthetic"
max_seq_length = 64

[nodes.train]
type = "finetune"
inputs = ["model"]
learning_rate = 2e-3
num_train_epochs = 1

[nodes.prune]
type = "dynabert"
inputs = ["train"]
width_mult_list = ["3/4", 0.5]

[nodes.quant]
type = "ptq"
inputs = ["prune"]
algo_list = ["mse", "KL"]
batch_size_list = [4, 8]
#@env from-env
""")
    write(t, "composite.toml", """\
[model]
path = "${SLIMPIPE_FUZZ_ENV}/model"

[task]
type = "token_cls"
train = "train.conll"

[nodes.compress]
type = "dynabert+ptq"
inputs = ["model"]
width_mult_list = [0.75]

[nodes.compress.matrix]
algo = ["mse", "hist"]
#@env /tmp/models
#@set pipeline.output_dir=/tmp/out
""")
    write(t, "matrix_include_exclude.toml", """\
[pipeline]
name = "matrix"
fail_fast = true
threads_per_instance = 1

[nodes.sleep]
type = "sleep_record"
inputs = []
[nodes.sleep.matrix]
sleep_ms = [1, 2, 3]
x = ["a", "b"]
exclude = [{ sleep_ms = 2, x = "b" }]
include = [{ sleep_ms = 9, x = "z" }]

[nodes.after]
type = "sleep_record"
inputs = ["sleep"]
collect = true
outputs = ["left", "right"]
#@set nodes.after.sleep_ms=5
#@set pipeline.max_parallel=4
""")
    write(t, "errors.toml", """\
[pipeline]
name = 3
device = "cuda:7"
bogus = true

[nodes.A]
type = "no_such_plugin"
inputs = ["missing", "A"]

[nodes.b]
type = "echo_task"
inputs = "model"
date = 1979-05-27T07:32:00Z
#@set nodes..x=1
#@set =v
""")


def main():
    seeds_safetensors()
    seeds_pytorch_bin()
    seeds_config_json()
    seeds_data_readers()
    seeds_vocab()
    seeds_runtime_model()
    seeds_pipeline()


if __name__ == "__main__":
    main()

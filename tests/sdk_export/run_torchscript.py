# Python-side check of a slimpipe model.pt: torch.jit.load it, run every call of an inputs JSON file (the
# format run_onnx.js reads) and write each call's outputs as {"dims", "data"} lists, in return order.
# Usage: python3 run_torchscript.py <model.pt> <inputs.json> <outputs.json>
import json
import sys

import torch


def main():
    model_path, inputs_path, outputs_path = sys.argv[1:4]
    model = torch.jit.load(model_path)
    if model.training:
        raise SystemExit("model.pt loads in training mode")
    calls = json.load(open(inputs_path))["calls"]
    results = []
    with torch.no_grad():
        for call in calls:
            args = [torch.tensor(call[name], dtype=torch.long).view(call["shape"])
                    for name in ("input_ids", "token_type_ids", "attention_mask")]
            out = model(*args)
            outs = list(out) if isinstance(out, tuple) else [out]
            results.append([{"dims": list(t.shape), "data": t.flatten().tolist()} for t in outs])
    json.dump({"calls": results}, open(outputs_path, "w"))


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Reruns the quickstart from nothing and writes what it measured into README.md (the paragraph between the
# "figures:quickstart" markers) and its report's screenshot into docs/report.png. The README's quickstart
# figures come from this script, never by hand. Needs a build (scripts/build.sh) and chromium (setup.sh).
#   bash scripts/readme_figures.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out=runs/quickstart
rm -rf "$out"
load=$(cut -d" " -f1 /proc/loadavg)
start=$SECONDS
build/bin/slimpipe run pipelines/quickstart.toml -q
wall=$((SECONDS - start))
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,1900 \
  --screenshot="$root/docs/report.png" "file://$root/$out/report.html" > /dev/null 2>&1

WALL="$wall" LOAD="$load" CORES="$(nproc)" DAY="$(date -u +%F)" /usr/bin/python3 - "$out" README.md <<'PY'
import json, os, re, sys
run, readme = sys.argv[1], sys.argv[2]
r = json.load(open(os.path.join(run, "rank", "ranking.json")))
best = next(c for c in r["candidates"] if c["id"] == r["best"])
models = {m["role"]: m for m in r["models"]}
base, parent = models["baseline"], models.get("fp32 parent")
test = r.get("test") or {}
def iv(x):
    return "[%+.1f, %+.1f]" % (x[0], x[1]) if x else "(no interval)"
cell = best["id"].split(",algo=")[1].split(",")[0] + " at batch size " + best["id"].split("batch_size=")[1].split(",")[0]
b32 = best["latency"].get("batch_32", {})
p32 = (parent or {}).get("latency", {}).get("batch_32", {})
text = (
    "Last run ({date}, {isa}, {cores} cores, {wall} s wall, load average {load} at the start): rank chose {cell}: {acc:.1f}% dev accuracy "
    "(Δ {d:+.1f}, interval {div} against the unpruned model's {b:.1f}%), logit SQNR {sqnr:.1f} dB and {agree:.1f}% "
    "agreement with the pruned fp32 model, and {t:.1f}% test accuracy (unpruned: {bt:.1f}; Δ test {dt:+.1f}, interval {dtv}). "
    "The pruned fp32 model alone: {pa:.1f}% dev, {pt:.1f}% test, {ps:.2f}× the unpruned model's speed at batch 32; "
    "the chosen INT8 cell {s32:.2f}×."
).format(date=os.environ["DAY"],
         isa=r["bench"]["isa"], cores=os.environ["CORES"], wall=os.environ["WALL"], load=os.environ["LOAD"], cell=cell,
         acc=best["accuracy"], d=best["delta"], div=iv(best.get("delta_interval")), b=base["accuracy"],
         sqnr=best["logit_sqnr_db"], agree=100 * best["agreement"], t=best["test"]["accuracy"], bt=test["baseline"],
         dt=best["test"]["delta"], dtv=iv(best["test"].get("delta_interval")), pa=parent["accuracy"],
         pt=parent["test"]["accuracy"], ps=p32.get("speedup") or 0.0, s32=b32.get("speedup") or 0.0)
src = open(readme).read()
new, n = re.subn(r"(<!-- figures:quickstart -->\n).*?(\n<!-- /figures:quickstart -->)", lambda m: m.group(1) + text + m.group(2),
                 src, flags=re.S)
if n != 1:
    sys.exit("readme_figures: README.md has no <!-- figures:quickstart --> ... <!-- /figures:quickstart --> block")
open(readme, "w").write(new)
print(text)
PY

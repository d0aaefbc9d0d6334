// ONNX Runtime (onnxruntime-node) timing for bench/peers: runs one model at the given batch sizes on random
// token ids and prints {"batch": {"runs": [ms...]}} as JSON on stdout.
// Usage: node ort_bench.js <onnxruntime-node dir> <model.onnx> <threads> <seq> <iters> <max_seconds> <batch>...
'use strict';

async function main() {
  const [ortDir, modelPath, threadsArg, seqArg, itersArg, maxArg, ...batchArgs] = process.argv.slice(2);
  const ort = require(ortDir);
  const threads = Number(threadsArg), seq = Number(seqArg), iters = Number(itersArg), maxSeconds = Number(maxArg);
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const result = {};
  let seed = 12345;
  const next = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed; };
  for (const b of batchArgs.map(Number)) {
    const n = b * seq;
    const ids = new BigInt64Array(n), types = new BigInt64Array(n), mask = new BigInt64Array(n);
    for (let i = 0; i < n; ++i) { ids[i] = BigInt(1 + (next() % 30000)); mask[i] = 1n; }
    const feeds = {
      input_ids: new ort.Tensor('int64', ids, [b, seq]),
      token_type_ids: new ort.Tensor('int64', types, [b, seq]),
      attention_mask: new ort.Tensor('int64', mask, [b, seq]),
    };
    await session.run(feeds);  // warm-up
    const runs = [];
    const start = process.hrtime.bigint();
    for (let i = 0; i < iters; ++i) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      runs.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (runs.length >= 3 && Number(process.hrtime.bigint() - start) / 1e9 > maxSeconds) break;
    }
    result[String(b)] = { runs };
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});

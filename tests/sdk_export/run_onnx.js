// ONNX Runtime oracle for the sdk_export tests: runs model.onnx on every call listed in an inputs JSON file
// and writes each call's outputs (dims + float data) to an outputs JSON file.
// Usage: node run_onnx.js <onnxruntime-node dir> <model.onnx> <inputs.json> <outputs.json>
'use strict';
const fs = require('fs');

async function main() {
  const [ortDir, modelPath, inputsPath, outputsPath] = process.argv.slice(2);
  const ort = require(ortDir);
  const session = await ort.InferenceSession.create(modelPath);
  const calls = JSON.parse(fs.readFileSync(inputsPath, 'utf8')).calls;
  const results = [];
  for (const call of calls) {
    const feeds = {};
    for (const name of ['input_ids', 'token_type_ids', 'attention_mask']) {
      feeds[name] = new ort.Tensor('int64', BigInt64Array.from(call[name].map(BigInt)), call.shape);
    }
    const out = await session.run(feeds);
    const entry = {};
    for (const name of session.outputNames) {
      // Float32 -> Number is exact, and JSON keeps every double digit needed to read it back.
      entry[name] = { dims: out[name].dims, data: Array.from(out[name].data) };
    }
    results.push(entry);
  }
  fs.writeFileSync(outputsPath, JSON.stringify({ inputNames: session.inputNames, calls: results }));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});

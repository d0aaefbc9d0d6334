// Reference ids from Hugging Face's tokenizer (npm @huggingface/transformers), for test_sdk_text.
// Usage: node hf_oracle.mjs <transformers.node.mjs> <model dir> <inputs.jsonl> <outputs.jsonl>
// Each input line is {"a": text} or {"a": text, "b": text}; each output line holds the
// untruncated input_ids and token_type_ids with special tokens. Offline: no remote models.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [moduleFile, modelDir, inputFile, outputFile] = process.argv.slice(2);
const { AutoTokenizer, env } = await import(pathToFileURL(moduleFile).href);
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(path.resolve(modelDir)) + '/';
const tokenizer = await AutoTokenizer.from_pretrained(path.basename(path.resolve(modelDir)));

const out = fs.openSync(outputFile, 'w');
for (const line of fs.readFileSync(inputFile, 'utf8').split('\n')) {
  if (line === '') continue;
  const { a, b } = JSON.parse(line);
  const e = tokenizer(a, { text_pair: b ?? null, return_tensor: false });
  fs.writeSync(out, JSON.stringify({ ids: e.input_ids, type_ids: e.token_type_ids }) + '\n');
}
fs.closeSync(out);

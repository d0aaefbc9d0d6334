// Reference ids from Hugging Face's tokenizer (npm @huggingface/tokenizers: the tokenizer code that
// transformers.js runs, without its image and Node 20 dependencies), for test_sdk_text.
// Usage: node hf_oracle.mjs <tokenizers.mjs> <model dir> <inputs.jsonl> <outputs.jsonl>
// The model dir holds tokenizer.json and tokenizer_config.json. Each input line is {"a": text} or
// {"a": text, "b": text}; each output line holds the untruncated input_ids and token_type_ids with
// special tokens. Offline: nothing is fetched.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [moduleFile, modelDir, inputFile, outputFile] = process.argv.slice(2);
const { Tokenizer } = await import(pathToFileURL(moduleFile).href);
const readJson = (name) => JSON.parse(fs.readFileSync(path.join(modelDir, name), 'utf8'));
const tokenizer = new Tokenizer(readJson('tokenizer.json'), readJson('tokenizer_config.json'));

const out = fs.openSync(outputFile, 'w');
for (const line of fs.readFileSync(inputFile, 'utf8').split('\n')) {
  if (line === '') continue;
  const { a, b } = JSON.parse(line);
  const e = tokenizer.encode(a, { text_pair: b ?? null, return_token_type_ids: true });
  fs.writeSync(out, JSON.stringify({ ids: e.ids, type_ids: e.token_type_ids }) + '\n');
}
fs.closeSync(out);

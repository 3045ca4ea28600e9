import type { CommandSpec } from '../../args/spec.js'
import { modelsCmd } from '../loaders.js'
import { JSON_OUT, NODE_LOCATION } from './options.js'

/** The `models` commands (see ../table.ts). */
export const MODELS_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'models list',
    summary: 'list the models: built-in, added and pulled (and what a running node serves)',
    options: [...NODE_LOCATION, JSON_OUT],
    examples: [{ cmd: 'models list' }],
    load: modelsCmd('list'),
  },
  {
    name: 'models add',
    summary: 'register a local model: a GGUF file, an ONNX file, or an ONNX export directory',
    description:
      'The model is recorded in models.json in the data directory with its sha256, checked on every load. A running node registers it at once, serves it and tells its peers (no restart). In a directory the best ONNX export layout is taken (model.onnx, onnx/model.onnx, then onnx/model_quantized.onnx and the other 8-bit variants), or its one .gguf file; the command says which, and --file chooses another.',
    args: [
      { name: 'name', description: 'registry name: lower-case letters, digits, ".", "_" and "-"' },
      { name: 'path', description: 'a .gguf or .onnx file, or a model directory' },
    ],
    options: [
      {
        name: 'file',
        kind: 'string',
        value: 'path',
        description:
          'the model file inside the directory, e.g. onnx/model_quantized.onnx (default: the best layout present)',
      },
      {
        name: 'task-types',
        kind: 'list',
        value: 'type',
        description:
          'task types an ONNX model serves (default: inferred: ner with a token classifier config.json, else embed; tokenize with a tokenizer.json; onnx)',
      },
      ...NODE_LOCATION,
      JSON_OUT,
    ],
    examples: [
      { cmd: 'models add tinyllama ./tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf' },
      { cmd: 'models add minilm ./all-MiniLM-L6-v2' },
      { cmd: 'models add minilm-q8 ./all-MiniLM-L6-v2 --file onnx/model_quantized.onnx' },
      { cmd: 'models add scorer ./scorer.onnx' },
    ],
    load: modelsCmd('add'),
  },
  {
    name: 'models pull',
    summary: 'download a model from the Hugging Face hub: an ONNX export or a GGUF file (resumable)',
    description:
      'An interrupted pull (Ctrl-C, a lost connection) keeps what it downloaded: run it again to continue. Every file is checked against the sha256 the hub announces. A running node serves the model at once. Progress shows on stderr: a bar with the rate and ETA on a terminal, a line every 10 % otherwise. References are described in docs/models.md. With --from-swarm the running node fetches the model by name from its peers instead (content.enabled on both sides; docs/content.md): by the CID they announce, every block checked, the model file against the announced sha256; it then serves the model and shares it in turn.',
    args: [
      {
        name: 'reference',
        description:
          'owner/repo (its ONNX export; or its GGUF file, Q4_K_M, if it has no ONNX), owner/repo:Q8_0 (a quantization), owner/repo:file.gguf, hf:/hf.co/ forms and pasted URLs, or a short name (all-minilm-l6-v2, bge-small-en-v1.5, bert-base-ner, tinyllama-1.1b-chat)',
      },
    ],
    options: [
      {
        name: 'revision',
        kind: 'string',
        value: 'rev',
        default: 'main',
        description: 'branch, tag or commit',
      },
      {
        name: 'endpoint',
        kind: 'string',
        value: 'url',
        default: 'https://huggingface.co',
        env: 'HF_ENDPOINT',
        description: 'a Hugging Face compatible server',
      },
      {
        name: 'token',
        kind: 'string',
        value: 'token',
        env: 'HF_TOKEN',
        description: 'access token for gated or private repositories (sent as Authorization: Bearer)',
      },
      {
        name: 'as',
        kind: 'string',
        value: 'name',
        description:
          'registry name (default: the short name, the repository name for ONNX, the file name for GGUF; lower-cased)',
      },
      {
        name: 'from-swarm',
        kind: 'boolean',
        description:
          'fetch the model named <reference> from connected peers that announce it, through the running node, not from a hub',
      },
      {
        name: 'sha256',
        kind: 'string',
        value: 'hex',
        description:
          'with --from-swarm: only the model whose file has this sha256 (default: the one most peers announce)',
      },
      ...NODE_LOCATION,
      JSON_OUT,
    ],
    examples: [
      { cmd: 'models pull all-minilm-l6-v2' },
      { cmd: 'models pull TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF:Q4_K_M' },
      { cmd: 'models pull hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q8_0 --as llama-3.2-1b' },
      { cmd: 'models pull sentence-transformers/all-MiniLM-L6-v2 --revision main' },
      { cmd: 'models pull acme/tiny-GGUF --endpoint http://127.0.0.1:8080' },
      { cmd: 'models pull all-minilm-l6-v2 --from-swarm' },
    ],
    load: modelsCmd('pull'),
  },
]

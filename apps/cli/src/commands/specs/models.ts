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
    summary: 'register a local ONNX model (a .onnx file, or a directory with model.onnx and tokenizer.json)',
    description:
      'The model is recorded in models.json in the data directory with its sha256, checked on every load. A running node serves it after a restart.',
    args: [
      { name: 'name', description: 'registry name: lower-case letters, digits, ".", "_" and "-"' },
      { name: 'path', description: 'the .onnx file or the model directory' },
    ],
    options: [
      {
        name: 'task-types',
        kind: 'list',
        value: 'type',
        description:
          'task types it serves (default: inferred: embed, tokenize and onnx with a tokenizer.json, else onnx)',
      },
      ...NODE_LOCATION,
      JSON_OUT,
    ],
    examples: [{ cmd: 'models add minilm ./all-MiniLM-L6-v2' }, { cmd: 'models add scorer ./scorer.onnx' }],
    load: modelsCmd('add'),
  },
  {
    name: 'models pull',
    summary: 'download a model from the Hugging Face hub (needs the internet)',
    args: [
      {
        name: 'name',
        description:
          'a repository (sentence-transformers/all-MiniLM-L6-v2) or a known short name (all-minilm-l6-v2)',
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
        name: 'as',
        kind: 'string',
        value: 'name',
        description: 'registry name (default: the repository name, lower-cased)',
      },
      ...NODE_LOCATION,
      JSON_OUT,
    ],
    examples: [
      { cmd: 'models pull all-minilm-l6-v2' },
      { cmd: 'models pull sentence-transformers/all-MiniLM-L6-v2 --revision main' },
    ],
    load: modelsCmd('pull'),
  },
]

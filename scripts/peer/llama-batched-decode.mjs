#!/usr/bin/env node
// Batched CPU decode with llama.cpp (through node-llama-cpp's prebuilt binaries), the peer for
// `engine bench --concurrency`: for each level N, N sequences are prefilled with a prompt each, then decoded
// together, one llama_decode of N tokens per step (what llama-batched-bench's TG phase measures).
//
//   NODE_PATH=/tmp/peer/node_modules node scripts/peer/llama-batched-decode.mjs --model X.gguf \
//       [--threads 2] [--sequences 1,4,8,16] [--prompt 128] [--gen 128] [--repetitions 3] [--batch 512] \
//       [--flash-attn auto|on|off] [--json]
//
// node-llama-cpp is not a dependency of this repository: install it in a scratch folder (scripts/peer/README.md)
// and point NODE_PATH (or --node-modules) at its node_modules.
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import fs from "node:fs";

function fail(message) {
    console.error(`error: ${message}`);
    process.exit(1);
}

function parseArgs(argv) {
    const args = {
        model: null, threads: 2, sequences: [1, 4, 8, 16], prompt: 128, gen: 128, repetitions: 3, batch: 512,
        flashAttn: "auto", dispatch: "all", json: false, nodeModules: process.env.NODE_PATH?.split(path.delimiter)[0] ?? null,
    };
    const positiveInt = (flag, text) => {
        const n = Number(text);
        if (!Number.isInteger(n) || n < 1) fail(`${flag} must be a positive integer, got '${text}'`);
        return n;
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const value = () => (i + 1 < argv.length ? argv[++i] : fail(`${a} needs a value`));
        switch (a) {
            case "--model": case "-m": args.model = value(); break;
            case "--threads": case "-t": args.threads = positiveInt(a, value()); break;
            case "--sequences": args.sequences = value().split(",").map((s) => positiveInt(a, s)); break;
            case "--prompt": args.prompt = positiveInt(a, value()); break;
            case "--gen": args.gen = positiveInt(a, value()); break;
            case "--repetitions": case "-r": args.repetitions = positiveInt(a, value()); break;
            case "--batch": args.batch = positiveInt(a, value()); break;
            case "--flash-attn": {
                const v = value();
                if (!["auto", "on", "off"].includes(v)) fail(`--flash-attn must be auto, on or off, got '${v}'`);
                args.flashAttn = v;
                break;
            }
            case "--dispatch": {
                const v = value();
                if (!["all", "next-cycle"].includes(v)) fail(`--dispatch must be all or next-cycle, got '${v}'`);
                args.dispatch = v;
                break;
            }
            case "--node-modules": args.nodeModules = value(); break;
            case "--json": args.json = true; break;
            case "-h": case "--help":
                console.log("usage: llama-batched-decode.mjs --model X.gguf [--threads 2] [--sequences 1,4,8,16] [--prompt 128] "
                    + "[--gen 128] [--repetitions 3] [--batch 512] [--flash-attn auto|on|off] [--dispatch all|next-cycle] [--node-modules DIR] [--json]");
                process.exit(0);
            default: fail(`unknown option ${a}`);
        }
    }
    if (args.model === null) fail("missing --model X.gguf");
    if (!fs.existsSync(args.model)) fail(`model not found: ${args.model}`);
    if (args.prompt < 2) fail("--prompt must be at least 2 (the last prompt token is the first decode input)");
    return args;
}

async function importNodeLlamaCpp(nodeModules) {
    try {
        if (nodeModules) {
            const require = createRequire(path.join(path.resolve(nodeModules), "noop.js"));
            return await import(pathToFileURL(require.resolve("node-llama-cpp")).href);
        }
        return await import("node-llama-cpp");
    } catch (e) {
        fail(`cannot load node-llama-cpp (${e.code ?? e.message}); install it in a scratch folder and pass --node-modules DIR or NODE_PATH`);
    }
}

const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// Prompt ids drawn from the ordinary vocabulary, different for every sequence (no shared prefix to reuse).
function promptTokens(sequenceIndex, length, vocabLimit) {
    let s = (0x9e3779b9 ^ (sequenceIndex * 0x85ebca6b)) >>> 0;
    const ids = [];
    for (let i = 0; i < length; i++) {
        s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
        ids.push(1000 + (s % (vocabLimit - 1000)));
    }
    return ids;
}

// One repetition at one level: prefill every sequence's prompt except its last token (batched by the
// context's scheduler), then decode `gen` steps of N tokens, each sequence feeding back its greedy token.
async function runOnce(sequences, args, vocabLimit, decodeCalls) {
    const prompts = sequences.map((_, i) => promptTokens(i, args.prompt, vocabLimit));
    await Promise.all(sequences.map((s) => s.clearHistory()));

    const prefillStart = performance.now();
    await Promise.all(sequences.map((s, i) => s.evaluateWithoutGeneratingNewTokens(prompts[i].slice(0, -1))));
    const prefillMs = performance.now() - prefillStart;

    const callsBefore = decodeCalls.count;
    const decodeStart = performance.now();
    const generated = await Promise.all(sequences.map(async (s, i) => {
        let count = 0;
        for await (const _ of s.evaluate([prompts[i].at(-1)], { temperature: 0, yieldEogToken: true })) {
            if (++count >= args.gen) break;
        }
        return count;
    }));
    const decodeMs = performance.now() - decodeStart;
    if (generated.some((c) => c !== args.gen)) throw new Error(`a sequence stopped early: ${generated.join(",")} tokens`);

    const n = sequences.length;
    return {
        prefillTokensPerSecond: (n * (args.prompt - 1)) / (prefillMs / 1000),
        decodeTokensPerSecond: (n * args.gen) / (decodeMs / 1000),
        perSequenceDecodeTokensPerSecond: args.gen / (decodeMs / 1000),
        decodeCalls: decodeCalls.count - callsBefore,
    };
}

// Counts llama_decode calls by putting a proxy in front of node-llama-cpp's internal native context (not
// public API: if it is not there, the count is reported as unavailable), to show whether each decode step
// really batched all N sequences.
function countDecodeCalls(context) {
    const counter = { count: 0, available: false };
    const native = context._ctx;
    if (!native || typeof native.decodeBatch !== "function") return counter;
    try {
        context._ctx = new Proxy(native, {
            get(target, key) {
                if (key === "decodeBatch") return (...a) => { counter.count++; return target.decodeBatch(...a); };
                const v = target[key];
                return typeof v === "function" ? v.bind(target) : v;
            },
        });
        counter.available = true;
    } catch { /* left unwrapped: count unavailable */ }
    return counter;
}

// node-llama-cpp's "nextCycle" schedule (its default) decodes whatever is queued on the next event-loop turn,
// so a sequence whose sampling finished late misses the step and decodes in a batch of its own. "all" decodes
// as soon as every sequence has queued its token (llama-batched-bench's one llama_decode of N tokens per
// step), with a 200 ms fallback for a step where some sequence queues nothing. Internal API: if the hook is
// not there, "all" behaves like "next-cycle".
function applyDispatch(context, kind) {
    if (kind !== "all" || typeof context._scheduleDecode !== "function") return;
    const scheduleDecode = context._scheduleDecode.bind(context);
    context._scheduleDecode = () => {
        if (context._queuedDecodeSequenceIds?.size === context.totalSequences) context.dispatchPendingBatch();
        else scheduleDecode();
    };
}

async function main() {
    const args = parseArgs(process.argv.slice(2));
    const { getLlama, LlamaLogLevel } = await importNodeLlamaCpp(args.nodeModules);

    const backendLines = [];
    const llama = await getLlama({
        gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true, progressLogs: false,
        logLevel: LlamaLogLevel.debug,
        logger: (level, message) => {
            // keep what says which ggml backend library got loaded; drop the rest of llama.cpp's chatter
            if (/load_backend|ggml-cpu|CPU backend|score/i.test(message)) backendLines.push(message.trim());
            else if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) console.error(message.trim());
        },
    });
    const model = await llama.loadModel({ modelPath: args.model, gpuLayers: 0 });
    const vocabLimit = Math.min(model.tokens.bos ?? 151643, 151643);

    const info = {
        peer: "llama.cpp via node-llama-cpp (prebuilt binaries)",
        llamaCppRelease: llama.llamaCppRelease,
        buildType: llama.buildType,
        backend: [...new Set(backendLines)],
        systemInfo: llama.systemInfo,
        model: path.resolve(args.model),
        threads: args.threads, prompt: args.prompt, gen: args.gen, repetitions: args.repetitions,
        batch: args.batch, flashAttn: args.flashAttn, dispatch: args.dispatch,
    };
    if (!args.json) {
        console.log(`${info.peer}: release ${info.llamaCppRelease.release} (${info.buildType})`);
        for (const line of info.backend) console.log(`  backend: ${line}`);
        console.log(`  system: ${info.systemInfo}`);
        console.log(`  model ${info.model}, threads ${args.threads}, prompt ${args.prompt}, gen ${args.gen}, `
            + `median of ${args.repetitions}, batch ${args.batch}, flash-attn ${args.flashAttn}, dispatch ${args.dispatch}`);
        console.log("");
        console.log("| sequences | prompt tok/s | decode tok/s (aggregate) | decode tok/s per sequence | vs 1 sequence | tokens per llama_decode |");
        console.log("|---:|---:|---:|---:|---:|---:|");
    }

    const levels = [];
    for (const n of args.sequences) {
        const context = await model.createContext({
            sequences: n, contextSize: args.prompt + args.gen + 16, batchSize: Math.max(args.batch, n),
            threads: args.threads,
            flashAttention: args.flashAttn === "auto" ? "auto" : args.flashAttn === "on",
            batching: { dispatchSchedule: args.dispatch === "all" ? (dispatch) => setTimeout(dispatch, 200) : "nextCycle" },
        });
        const sequences = Array.from({ length: n }, () => context.getSequence());
        applyDispatch(context, args.dispatch);
        const decodeCalls = countDecodeCalls(context);
        await runOnce(sequences, { ...args, prompt: Math.min(args.prompt, 16), gen: 4 }, vocabLimit, decodeCalls); // warm-up
        const runs = [];
        for (let r = 0; r < args.repetitions; r++) runs.push(await runOnce(sequences, args, vocabLimit, decodeCalls));
        await context.dispose();

        const level = {
            sequences: n,
            prefillTokensPerSecond: median(runs.map((x) => x.prefillTokensPerSecond)),
            decodeTokensPerSecond: median(runs.map((x) => x.decodeTokensPerSecond)),
            perSequenceDecodeTokensPerSecond: median(runs.map((x) => x.perSequenceDecodeTokensPerSecond)),
            // N when every decode step is one llama_decode of all N sequences (null: count unavailable)
            tokensPerDecodeCall: decodeCalls.available ? median(runs.map((x) => (n * args.gen) / x.decodeCalls)) : null,
            runs,
        };
        const one = levels.find((l) => l.sequences === 1);
        level.speedupOverOne = one ? level.decodeTokensPerSecond / one.decodeTokensPerSecond : null;
        levels.push(level);
        if (!args.json) {
            const x = level.speedupOverOne === null ? "" : `${level.speedupOverOne.toFixed(2)}x`;
            console.log(`| ${n} | ${level.prefillTokensPerSecond.toFixed(1)} | ${level.decodeTokensPerSecond.toFixed(2)} `
                + `| ${level.perSequenceDecodeTokensPerSecond.toFixed(2)} | ${x} | ${level.tokensPerDecodeCall?.toFixed(1) ?? "?"} |`);
        }
    }
    if (args.json) console.log(JSON.stringify({ ...info, levels }, null, 2));
    await model.dispose();
    await llama.dispose();
}

main().catch((e) => fail(e?.message ?? String(e)));

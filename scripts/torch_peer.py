#!/usr/bin/env python3
"""The same-run PyTorch peer for scripts/gpu-check.sh: on the device the engine was measured on, the bf16
matmul peak, the copy bandwidth, and a plain eager PyTorch bf16 prefill/decode of the same Qwen2/Llama shapes
(random weights, a contiguous KV cache, torch's scaled_dot_product_attention). Prints one JSON object.

Plain on purpose: no CUDA graphs, no fused kernels beyond what torch offers by default; it is the floor any
GPU engine should beat, measured on the same machine in the same run as the engine's numbers.
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(device, fn, repeats):
    """Median seconds of fn() over repeats, after one warm-up call."""
    fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def matmul_peak(device, n, repeats):
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    seconds = timed(device, lambda: a @ b, repeats)
    return {"n": n, "tflops": 2 * n ** 3 / seconds / 1e12}


def copy_bandwidth(device, mib, repeats):
    src = torch.empty(mib << 20, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    seconds = timed(device, lambda: dst.copy_(src), repeats)
    # A copy reads and writes every byte.
    return {"mib": mib, "gbps": 2 * src.numel() / seconds / 1e9}


class Model:
    """A Qwen2/Llama decoder with random bf16 weights (scaled like trained ones, so activations stay finite)."""

    def __init__(self, config, device, layers=None):
        c = config
        self.h = c["hidden_size"]
        self.heads = c["num_attention_heads"]
        self.kv_heads = c["num_key_value_heads"]
        self.head_dim = c.get("head_dim") or self.h // self.heads
        self.inter = c["intermediate_size"]
        self.vocab = c["vocab_size"]
        self.eps = c.get("rms_norm_eps", 1e-6)
        self.bias = c.get("model_type") == "qwen2"
        self.layers = layers or c["num_hidden_layers"]
        self.device = device
        theta = c.get("rope_theta", 10000.0)
        self.inv_freq = 1.0 / theta ** (torch.arange(0, self.head_dim, 2, device=device, dtype=torch.float32) / self.head_dim)

        def w(out_dim, in_dim):
            return (torch.randn(out_dim, in_dim, device=device, dtype=torch.bfloat16) / math.sqrt(in_dim))

        q_dim, kv_dim = self.heads * self.head_dim, self.kv_heads * self.head_dim
        self.embed = torch.randn(self.vocab, self.h, device=device, dtype=torch.bfloat16)
        self.blocks = []
        for _ in range(self.layers):
            self.blocks.append({
                "ln1": torch.ones(self.h, device=device, dtype=torch.bfloat16),
                "qkv": w(q_dim + 2 * kv_dim, self.h),
                "qkv_b": torch.zeros(q_dim + 2 * kv_dim, device=device, dtype=torch.bfloat16) if self.bias else None,
                "o": w(self.h, q_dim),
                "ln2": torch.ones(self.h, device=device, dtype=torch.bfloat16),
                "gate_up": w(2 * self.inter, self.h),
                "down": w(self.h, self.inter),
            })
        self.norm = torch.ones(self.h, device=device, dtype=torch.bfloat16)
        self.lm_head = w(self.vocab, self.h)

    def weight_bytes(self):
        total = self.embed.numel() + self.norm.numel() + self.lm_head.numel()
        for b in self.blocks:
            total += sum(t.numel() for t in b.values() if t is not None)
        return 2 * total

    def rms(self, x, weight):
        x32 = x.float()
        return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * weight

    def rope(self, x, positions):
        angles = positions[:, None].float() * self.inv_freq[None, :]
        cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)
        cos = torch.cat([cos, cos], -1)[None, :, None, :]
        sin = torch.cat([sin, sin], -1)[None, :, None, :]
        half = x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], -1)
        return x * cos + rotated * sin

    def new_cache(self, capacity):
        shape = (self.layers, 1, self.kv_heads, capacity, self.head_dim)
        return torch.zeros(shape, device=self.device, dtype=torch.bfloat16), torch.zeros(shape, device=self.device, dtype=torch.bfloat16)

    @torch.inference_mode()
    def forward(self, tokens, start, cache):
        """tokens [T] at positions start..start+T-1; fills the cache; returns the last position's logits."""
        keys, values = cache
        t = tokens.shape[0]
        positions = torch.arange(start, start + t, device=self.device)
        x = self.embed[tokens][None]  # [1, T, H]
        q_dim, kv_dim = self.heads * self.head_dim, self.kv_heads * self.head_dim
        group = self.heads // self.kv_heads
        for i, b in enumerate(self.blocks):
            h = self.rms(x, b["ln1"])
            qkv = F.linear(h, b["qkv"], b["qkv_b"])
            q, k, v = qkv.split([q_dim, kv_dim, kv_dim], -1)
            q = self.rope(q.view(1, t, self.heads, self.head_dim), positions).transpose(1, 2)
            k = self.rope(k.view(1, t, self.kv_heads, self.head_dim), positions).transpose(1, 2)
            v = v.view(1, t, self.kv_heads, self.head_dim).transpose(1, 2)
            keys[i, :, :, start:start + t] = k
            values[i, :, :, start:start + t] = v
            k_all = keys[i, :, :, :start + t].repeat_interleave(group, 1)
            v_all = values[i, :, :, :start + t].repeat_interleave(group, 1)
            if t == 1:
                a = F.scaled_dot_product_attention(q, k_all, v_all)
            else:
                # Causal over the new rows, after any cached prefix.
                mask = torch.ones(t, start + t, device=self.device, dtype=torch.bool).tril(start)
                a = F.scaled_dot_product_attention(q, k_all, v_all, attn_mask=mask)
            x = x + F.linear(a.transpose(1, 2).reshape(1, t, q_dim), b["o"])
            h = self.rms(x, b["ln2"])
            gate, up = F.linear(h, b["gate_up"]).chunk(2, -1)
            x = x + F.linear(F.silu(gate) * up, b["down"])
        return F.linear(self.rms(x[:, -1], self.norm), self.lm_head)


def run_shape(name, config, device, prompt, gen, repeats, layers):
    model = Model(config, device, layers)
    tokens = torch.randint(0, model.vocab, (prompt,), device=device)

    def prefill():
        model.forward(tokens, 0, model.new_cache(prompt + gen))

    prefill_s = timed(device, prefill, repeats)
    cache = model.new_cache(prompt + gen)
    logits = model.forward(tokens, 0, cache)
    sync(device)
    t0 = time.perf_counter()
    for step in range(gen):
        token = logits.argmax(-1)  # greedy on the device; the loop never reads it back
        logits = model.forward(token, prompt + step, cache)
    sync(device)
    decode_s = time.perf_counter() - t0
    result = {
        "shape": name,
        "layers": model.layers,
        "prompt_tokens": prompt,
        "gen_tokens": gen,
        "weight_bytes": model.weight_bytes(),
        "prefill_tokens_per_s": prompt / prefill_s,
        "decode_tokens_per_s": gen / decode_s,
    }
    del model, cache
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--models", required=True, help="models.json (the shapes)")
    parser.add_argument("--shapes", nargs="+", required=True)
    parser.add_argument("--prompts", nargs="+", type=int, required=True)
    parser.add_argument("--gen", type=int, default=128)
    parser.add_argument("--quick", action="store_true", help="small sizes and 2 layers (a dry run on a CPU)")
    args = parser.parse_args()

    device = torch.device(args.device)
    with open(args.models) as f:
        registry = json.load(f)
    entries = registry if isinstance(registry, list) else registry["models"]
    configs = {e["name"]: e["config"] for e in entries}
    repeats = 1 if args.quick else 3
    result = {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "matmul_bf16": matmul_peak(device, 512 if args.quick else 8192, repeats),
        "copy_bandwidth": copy_bandwidth(device, 64 if args.quick else 2048, repeats),
        "runs": [],
    }
    for name in args.shapes:
        if name not in configs:
            raise SystemExit(f"error: no shape {name} in {args.models}")
        for prompt in args.prompts:
            result["runs"].append(run_shape(name, configs[name], device, prompt, args.gen, repeats, 2 if args.quick else None))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Trains Edgewise's bundled default model: a small LlamaForCausalLM (GQA, tied embeddings).

The model code follows Hugging Face transformers' Llama semantics (rotate-half RoPE, RMSNorm in
fp32, repeat_kv for grouped-query attention, SiLU-gated MLP) so that the exported checkpoint
means the same thing to transformers, to models/reference/llama_ref.py and to Edgewise.
See models/train/README.md for the whole recipe.
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 256,
    "intermediate_size": 688,
    "num_hidden_layers": 6,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "head_dim": 32,
    "vocab_size": 4096,
    "max_position_embeddings": 512,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "rope_scaling": None,
    "hidden_act": "silu",
    "attention_bias": False,
    "attention_dropout": 0.0,
    "mlp_bias": False,
    "tie_word_embeddings": True,
    "bos_token_id": 0,
    "eos_token_id": [0, 2],
    "initializer_range": 0.02,
    "torch_dtype": "bfloat16",
}


class RMSNorm(nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, hd = c["hidden_size"], c["head_dim"]
        self.n_heads, self.n_kv, self.hd = c["num_attention_heads"], c["num_key_value_heads"], hd
        self.input_layernorm = RMSNorm(h, c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(h, c["rms_norm_eps"])
        self.q_proj = nn.Linear(h, self.n_heads * hd, bias=False)
        self.k_proj = nn.Linear(h, self.n_kv * hd, bias=False)
        self.v_proj = nn.Linear(h, self.n_kv * hd, bias=False)
        self.o_proj = nn.Linear(self.n_heads * hd, h, bias=False)
        self.gate_proj = nn.Linear(h, c["intermediate_size"], bias=False)
        self.up_proj = nn.Linear(h, c["intermediate_size"], bias=False)
        self.down_proj = nn.Linear(c["intermediate_size"], h, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        y = self.input_layernorm(x)
        q = self.q_proj(y).view(b, t, self.n_heads, self.hd).transpose(1, 2)
        k = self.k_proj(y).view(b, t, self.n_kv, self.hd).transpose(1, 2)
        v = self.v_proj(y).view(b, t, self.n_kv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.n_heads // self.n_kv  # transformers' repeat_kv: head i reads kv head i // rep
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + mask
        attn = torch.softmax(scores.float(), dim=-1).to(q.dtype) @ v
        x = x + self.o_proj(attn.transpose(1, 2).reshape(b, t, -1))
        y = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(y)) * self.up_proj(y))


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([Block(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        hd = c["head_dim"]
        inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, ids):
        t = ids.shape[1]
        freqs = torch.arange(t, dtype=torch.float32)[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        mask = torch.full((t, t), float("-inf")).triu(1)
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.norm(x) @ self.embed_tokens.weight.T  # tied LM head


def init_weights(model, c):
    std = c["initializer_range"]
    for name, p in model.named_parameters():
        if p.dim() == 2:
            # GPT-2 style: shrink the projections that write into the residual stream.
            scale = 1 / math.sqrt(2 * c["num_hidden_layers"]) if name.endswith(("o_proj.weight", "down_proj.weight")) else 1
            nn.init.normal_(p, 0.0, std * scale)


def hf_state_dict(model):
    """Parameter name → tensor in Hugging Face's LlamaForCausalLM naming (tied: no lm_head)."""
    out = {"model.embed_tokens.weight": model.embed_tokens.weight, "model.norm.weight": model.norm.weight}
    for i, layer in enumerate(model.layers):
        p = f"model.layers.{i}."
        for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
            out[p + f"self_attn.{n}.weight"] = getattr(layer, n).weight
        for n in ("gate_proj", "up_proj", "down_proj"):
            out[p + f"mlp.{n}.weight"] = getattr(layer, n).weight
        out[p + "input_layernorm.weight"] = layer.input_layernorm.weight
        out[p + "post_attention_layernorm.weight"] = layer.post_attention_layernorm.weight
    return out


def save_safetensors_bf16(tensors, path):
    """Writes a BF16 safetensors file (8-byte header length, JSON header, raw little-endian data)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        data = tensors[name].detach().to(torch.bfloat16).contiguous().view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": "BF16", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * ((8 - len(head) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(head).to_bytes(8, "little"))
        f.write(head)
        for blob in blobs:
            f.write(blob)


def bf16_rounded_copy(model):
    """The model as shipped: every weight rounded to BF16 (round-to-nearest-even), computed in fp32."""
    clone = Llama(model.c)
    clone.load_state_dict({k: v.to(torch.bfloat16).float() for k, v in model.state_dict().items()})
    return clone


@torch.no_grad()
def heldout_loss(model, tokens, seq_len):
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(tokens) - 1, seq_len):
        chunk = torch.from_numpy(tokens[start : start + seq_len + 1].astype(np.int64))[None]
        if chunk.shape[1] < 2:
            break
        logits = model(chunk[:, :-1])
        total += F.cross_entropy(logits[0], chunk[0, 1:], reduction="sum").item()
        count += chunk.shape[1] - 1
    model.train()
    return total / count


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="models/train/work", help="folder with train.bin, heldout.bin; checkpoints go here")
    ap.add_argument("--steps", type=int, default=0, help="total optimizer steps (with --decay-start: reproduces a run exactly)")
    ap.add_argument("--decay-start", type=int, default=0, help="step at which the LR starts its linear decay to 10%%")
    ap.add_argument("--stable-until", default="", help="UTC time HH:MM: train at constant LR until then, then decay "
                    "over --decay-frac more steps (the chosen --steps/--decay-start are printed and logged)")
    ap.add_argument("--decay-frac", type=float, default=0.25)
    ap.add_argument("--stop-at", type=int, default=0, help="checkpoint and exit after this step (to replay a resumed run)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--export-only", action="store_true", help="write the current (or initial) weights and exit")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    train = np.fromfile(os.path.join(args.work, "train.bin"), dtype=np.uint16)
    heldout = np.fromfile(os.path.join(args.work, "heldout.bin"), dtype=np.uint16)
    model = Llama(CONFIG)
    init_weights(model, CONFIG)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)
    ckpt_path = os.path.join(args.work, "checkpoint.pt")
    log_path = os.path.join(args.work, "train-log.jsonl")
    step, total_steps = 0, args.steps
    if args.resume and os.path.exists(ckpt_path):
        ckpt = torch.load(ckpt_path)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        step, total_steps = ckpt["step"], ckpt["total_steps"]
        rng = np.random.default_rng(args.seed + step)
        print(f"resumed at step {step}/{total_steps}", flush=True)

    def export():
        out = os.path.join(args.work, "export")
        os.makedirs(out, exist_ok=True)
        save_safetensors_bf16(hf_state_dict(model), os.path.join(out, "model.safetensors"))
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(CONFIG, f, indent=2)

    if args.export_only:
        export()
        return

    # NOTE: a warmup-stable-decay schedule, because the wall-clock time this shared 2-core machine gives
    # us is unknown in advance: constant LR until --stable-until, then a linear decay. The step counts
    # are logged, and --steps S --decay-start D replays the same schedule step for step.
    warmup = 100
    started = time.time()
    tokens_per_step = args.batch * args.seq_len
    decay_start = args.decay_start or (ckpt["decay_start"] if args.resume and os.path.exists(ckpt_path) else 0)
    stable_until = 0.0
    if args.stable_until:
        hh, mm = (int(x) for x in args.stable_until.split(":"))
        now = time.gmtime()
        stable_until = time.mktime(time.struct_time((now.tm_year, now.tm_mon, now.tm_mday, hh, mm, 0, 0, 0, 0))) - time.timezone
    if not (total_steps or stable_until):
        ap.error("give --steps N (and --decay-start D) or --stable-until HH:MM")
    while total_steps == 0 or step < total_steps:
        if total_steps == 0 and time.time() >= stable_until:
            decay_start, total_steps = step, step + max(50, int(step * args.decay_frac))
            print(f"decay from step {decay_start} to {total_steps}", flush=True)
        decay = 0.0 if total_steps == 0 or step < decay_start else (step - decay_start) / max(1, total_steps - decay_start)
        lr = args.lr * min(1.0, (step + 1) / warmup) * (1.0 - 0.9 * decay)
        for group in opt.param_groups:
            group["lr"] = lr
        starts = rng.integers(0, len(train) - args.seq_len - 1, size=args.batch)
        batch = torch.from_numpy(np.stack([train[s : s + args.seq_len + 1] for s in starts]).astype(np.int64))
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 25 == 0:
            rate = step * tokens_per_step / (time.time() - started)
            print(f"step {step}/{total_steps} loss {loss.item():.3f} lr {lr:.2e} {rate:.0f} tok/s", flush=True)
        if step % 50 == 0 or step == total_steps or step == args.stop_at:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "total_steps": total_steps,
                        "decay_start": decay_start}, ckpt_path)
            export()
            entry = {"step": step, "train_loss": loss.item(), "time_s": round(time.time() - started)}
            if step % 200 == 0 or step == total_steps:
                entry["heldout_loss"] = heldout_loss(model, heldout, args.seq_len)
                entry["heldout_ppl"] = math.exp(entry["heldout_loss"])
            with open(log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")
            print(json.dumps(entry), flush=True)
        if step == args.stop_at:
            return

    final = heldout_loss(bf16_rounded_copy(model), heldout, args.seq_len)
    result = {"steps": step, "decay_start": decay_start, "tokens_seen": step * tokens_per_step, "heldout_tokens": int(len(heldout)),
              "heldout_loss_bf16": final, "heldout_ppl_bf16": math.exp(final), "train_seconds": round(time.time() - started)}
    with open(os.path.join(args.work, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

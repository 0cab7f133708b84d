#!/usr/bin/env python3
"""Trains Edgewise's bundled default model: a small LlamaForCausalLM (GQA, tied embeddings).

The model code follows Hugging Face transformers' Llama semantics (rotate-half RoPE, RMSNorm in
fp32, repeat_kv for grouped-query attention, SiLU-gated MLP) so that the exported checkpoint
means the same thing to transformers, to models/reference/llama_ref.py and to Edgewise.
See models/train/README.md for the whole recipe.

CPU (the documented recipe) is the default. `--device cuda` trains on a GPU (bf16 autocast with
`--amp bf16`), `--max-seconds` sizes the schedule from a measured step time so that the LR decay
finishes inside a wall-clock budget, `--val-chunks` keeps spans of the training split out of
training to choose the best checkpoint by validation loss (the held-out set is only reported).
models/train/device-train.sh runs a small sweep of these on one GPU.
"""
import time

T0 = time.time()  # --max-seconds counts from here (the torch import included)

import argparse
import copy
import json
import math
import os

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


def dropout(x, p, training):
    """Residual/embedding dropout (training only; p = 0 is the identity and draws no random numbers)."""
    return F.dropout(x, p, training) if p > 0 else x


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dropout = 0.0  # set by Llama.set_training_options; not part of the exported model
        self.sdpa = False  # fused attention (torch >= 2.0); same maths as the explicit path
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
        if self.sdpa:
            attn = F.scaled_dot_product_attention(q.to(v.dtype), k.to(v.dtype), v, is_causal=True)
        else:
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + mask
            attn = torch.softmax(scores.float(), dim=-1).to(q.dtype) @ v
        x = x + dropout(self.o_proj(attn.transpose(1, 2).reshape(b, t, -1)), self.dropout, self.training)
        y = self.post_attention_layernorm(x)
        return x + dropout(self.down_proj(F.silu(self.gate_proj(y)) * self.up_proj(y)), self.dropout, self.training)


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
        self.dropout = 0.0
        self.layerdrop = 0.0
        self.layerdrop_rng = None

    def set_training_options(self, dropout_p=0.0, sdpa=False, layerdrop=0.0, seed=0):
        self.dropout = dropout_p
        for layer in self.layers:
            layer.dropout, layer.sdpa = dropout_p, sdpa
        self.layerdrop = layerdrop
        self.layerdrop_rng = np.random.default_rng(seed + 7919)

    def layers_this_step(self):
        """The blocks a training step runs. NOTE: with --layerdrop p each block is skipped with
        probability p, one draw per step for the whole batch (LayerDrop, Fan et al. 2019), so that the
        subnets Edgewise serves at lower depth (the most important blocks, in order; docs/adaptive.md)
        are trained models rather than never-seen ones. Evaluation and export always run every block."""
        if not (self.training and self.layerdrop > 0):
            return self.layers
        keep = self.layerdrop_rng.random(len(self.layers)) >= self.layerdrop
        if not keep.any():
            keep[self.layerdrop_rng.integers(len(self.layers))] = True
        return [layer for layer, k in zip(self.layers, keep) if k]

    def forward(self, ids):
        t = ids.shape[1]
        freqs = torch.arange(t, dtype=torch.float32, device=ids.device)[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        mask = torch.full((t, t), float("-inf"), device=ids.device).triu(1)
        x = dropout(self.embed_tokens(ids), self.dropout, self.training)
        for layer in self.layers_this_step():
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
        data = tensors[name].detach().cpu().to(torch.bfloat16).contiguous().view(torch.int16).numpy().tobytes()
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


def bf16_rounded_copy(model, state=None):
    """The model as shipped: every weight rounded to BF16 (round-to-nearest-even), computed in fp32
    with the explicit attention path (no dropout)."""
    clone = Llama(model.c)
    clone.load_state_dict({k: v.to(torch.bfloat16).float() for k, v in (state or model.state_dict()).items()})
    return clone.to(model.inv_freq.device)


@torch.no_grad()
def heldout_loss(model, tokens, seq_len, amp=None, batch=1):
    """Mean next-token loss over consecutive seq_len windows of tokens (each window scored on its own;
    tokens may be a list of separate spans). amp: an autocast dtype (validation during training) or
    None (fp32). batch: windows per forward pass."""
    model.eval()
    device = model.inv_freq.device
    spans = tokens if isinstance(tokens, list) else [tokens]
    windows = [(span, s) for span in spans for s in range(0, len(span) - 1, seq_len)]
    full = [w for w in windows if w[1] + seq_len + 1 <= len(w[0])]
    groups = [full[i : i + batch] for i in range(0, len(full), batch)] + [[w] for w in windows if w[1] + seq_len + 1 > len(w[0])]
    total, count = 0.0, 0
    for group in groups:
        chunk = torch.from_numpy(np.stack([span[s : s + seq_len + 1] for span, s in group]).astype(np.int64)).to(device)
        with autocast(device, amp):
            logits = model(chunk[:, :-1])
        total += F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), chunk[:, 1:].reshape(-1), reduction="sum").item()
        count += chunk[:, 1:].numel()
    model.train()
    return total / count


def autocast(device, amp):
    """bf16 autocast on the given device, or a no-op context when amp is None."""
    if amp is None:
        return torch.autocast(device_type=device.type, enabled=False)
    return torch.autocast(device_type=device.type, dtype=amp)


def sdpa_matches(device):
    """True when F.scaled_dot_product_attention exists here and agrees with the explicit causal
    attention (fp32, small random input); otherwise training uses the explicit path."""
    if not hasattr(F, "scaled_dot_product_attention"):
        return False
    try:
        g = torch.Generator().manual_seed(7)
        q, k, v = (torch.randn(2, 8, 64, 32, generator=g).to(device) for _ in range(3))
        mask = torch.full((64, 64), float("-inf"), device=device).triu(1)
        ref = torch.softmax((q @ k.transpose(-1, -2)) / math.sqrt(32) + mask, dim=-1) @ v
        got = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        if not (got - ref).abs().max().item() < 1e-3:
            print("sdpa disagrees with the explicit attention: not used", flush=True)
            return False
        # The training use: bf16 autocast, forward and backward.
        qb, kb, vb = (t.clone().requires_grad_(True) for t in (q, k, v))
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            out = F.scaled_dot_product_attention(qb.to(torch.bfloat16), kb.to(torch.bfloat16), vb.to(torch.bfloat16), is_causal=True)
        out.float().square().sum().backward()
        return all(bool(torch.isfinite(t.grad).all().item()) for t in (qb, kb, vb))
    except Exception as err:  # noqa: BLE001 - any failure means: do not use it
        print(f"sdpa unavailable: {err}", flush=True)
        return False


def split_validation(n_tokens, seq_len, chunks, chunk_len):
    """Validation spans: `chunks` spans of chunk_len tokens spread evenly over the training split.
    Returns (validation start offsets, the training window starts that overlap none of them)."""
    val = [int(i * n_tokens / chunks) + (int(n_tokens / chunks) - chunk_len) // 2 for i in range(chunks)]
    ok = np.ones(n_tokens - seq_len - 1, dtype=bool)
    for v in val:
        ok[max(0, v - seq_len) : v + chunk_len + 1] = False  # a window [s, s + seq_len] must not touch [v, v + chunk_len)
    return val, np.nonzero(ok)[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="models/train/work", help="folder with train.bin, heldout.bin; checkpoints go here")
    ap.add_argument("--out-dir", default="", help="where checkpoint, export/, log and result go (default: --work)")
    ap.add_argument("--steps", type=int, default=0, help="total optimizer steps (with --decay-start: reproduces a run exactly)")
    ap.add_argument("--decay-start", type=int, default=0, help="step at which the LR starts its linear decay to 10%%")
    ap.add_argument("--stable-until", default="", help="UTC time HH:MM: train at constant LR until then, then decay "
                    "over --decay-frac more steps (the chosen --steps/--decay-start are printed and logged)")
    ap.add_argument("--max-seconds", type=float, default=0, help="wall-clock budget from process start: after "
                    "--calib-steps the step time is measured and --steps/--decay-start are chosen so that the decay "
                    "(the last --decay-frac of the steps) and the final evaluation finish inside it")
    ap.add_argument("--calib-steps", type=int, default=30, help="steps timed (after 5 untimed ones) to size --max-seconds runs")
    ap.add_argument("--max-epochs", type=float, default=0, help="cap on the steps chosen by --max-seconds, in passes over the training tokens")
    ap.add_argument("--decay-frac", type=float, default=0.25)
    ap.add_argument("--stop-at", type=int, default=0, help="checkpoint and exit after this step (to replay a resumed run)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--dropout", type=float, default=0.0, help="residual and embedding dropout during training")
    ap.add_argument("--layerdrop", type=float, default=0.0, help="probability of skipping each block in a training step "
                    "(LayerDrop: trains the shallower subnets that depth switching serves; 0: off)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    ap.add_argument("--amp", default="", choices=["", "bf16"], help="bf16: autocast matmuls to BF16 (weights and optimizer stay fp32)")
    ap.add_argument("--attn", default="auto", choices=["auto", "explicit", "sdpa"],
                    help="auto: F.scaled_dot_product_attention on cuda when it exists and matches the explicit path")
    ap.add_argument("--val-chunks", type=int, default=0, help="keep this many spans of the training split out of "
                    "training as a validation set; the best checkpoint by validation loss is exported")
    ap.add_argument("--val-chunk-len", type=int, default=4096)
    ap.add_argument("--heldout-limit", type=int, default=0, help="score only the first N held-out tokens (quick tests; 0: all)")
    ap.add_argument("--val-evals", type=int, default=25, help="validation evaluations over a --max-seconds run")
    ap.add_argument("--val-every", type=int, default=0, help="validation every N steps (default: from --val-evals)")
    ap.add_argument("--ckpt-every", type=int, default=50, help="checkpoint.pt + export every N steps (0: only at the end)")
    ap.add_argument("--heldout-every", type=int, default=200, help="log held-out loss every N steps (0: only at the end)")
    ap.add_argument("--log-every", type=int, default=50, help="train-log.jsonl entry every N steps")
    ap.add_argument("--print-every", type=int, default=25)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--export-only", action="store_true", help="write the current (or initial) weights and exit")
    args = ap.parse_args()

    device = torch.device(args.device)
    amp = torch.bfloat16 if args.amp == "bf16" else None
    out_dir = args.out_dir or args.work
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    train = np.fromfile(os.path.join(args.work, "train.bin"), dtype=np.uint16)
    heldout = np.fromfile(os.path.join(args.work, "heldout.bin"), dtype=np.uint16)
    if args.heldout_limit:
        heldout = heldout[: args.heldout_limit]
    model = Llama(CONFIG)
    init_weights(model, CONFIG)
    model.to(device)
    sdpa = args.attn == "sdpa" or (args.attn == "auto" and device.type == "cuda" and sdpa_matches(device))
    model.set_training_options(args.dropout, sdpa, args.layerdrop, args.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)
    ckpt_path = os.path.join(out_dir, "checkpoint.pt")
    log_path = os.path.join(out_dir, "train-log.jsonl")
    step, total_steps = 0, args.steps
    ckpt = None
    if args.resume and os.path.exists(ckpt_path):
        ckpt = torch.load(ckpt_path, map_location=device)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        step, total_steps = ckpt["step"], ckpt["total_steps"]
        rng = np.random.default_rng(args.seed + step)
        print(f"resumed at step {step}/{total_steps}", flush=True)

    def export(state=None):
        out = os.path.join(out_dir, "export")
        os.makedirs(out, exist_ok=True)
        weights = model if state is None else bf16_rounded_copy(model, state)
        save_safetensors_bf16(hf_state_dict(weights), os.path.join(out, "model.safetensors"))
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(CONFIG, f, indent=2)

    if args.export_only:
        export()
        return

    def log(entry):
        with open(log_path, "a") as f:
            f.write(json.dumps(entry) + "\n")
        print(json.dumps(entry), flush=True)

    # Validation spans (opt-in): cut out of the training split, never trained on; they choose the
    # checkpoint. Without --val-chunks the sampler is exactly the original recipe's.
    val_spans, train_starts = [], None
    if args.val_chunks:
        offsets, train_starts = split_validation(len(train), args.seq_len, args.val_chunks, args.val_chunk_len)
        val_spans = [train[o : o + args.val_chunk_len] for o in offsets]
    train_tokens = len(train) - args.val_chunks * args.val_chunk_len
    train_gpu = torch.from_numpy(train.astype(np.int64)).to(device)
    window = torch.arange(args.seq_len + 1, device=device)
    eval_batch = 16 if device.type == "cuda" else 1

    # NOTE: a warmup-stable-decay schedule, because the wall-clock time this shared 2-core machine gives
    # us is unknown in advance: constant LR until --stable-until, then a linear decay. The step counts
    # are logged, and --steps S --decay-start D replays the same schedule step for step. --max-seconds
    # does the same from a measured step time instead of a clock time.
    warmup = args.warmup
    started = time.time()
    tokens_per_step = args.batch * args.seq_len
    decay_start = args.decay_start or (ckpt["decay_start"] if ckpt else 0)
    stable_until = 0.0
    if args.stable_until:
        hh, mm = (int(x) for x in args.stable_until.split(":"))
        now = time.gmtime()
        stable_until = time.mktime(time.struct_time((now.tm_year, now.tm_mon, now.tm_mday, hh, mm, 0, 0, 0, 0))) - time.timezone
    if not (total_steps or stable_until or args.max_seconds):
        ap.error("give --steps N (and --decay-start D), --stable-until HH:MM or --max-seconds T")
    print(f"torch {torch.__version__} numpy {np.__version__} device {device}"
          f"{' (' + torch.cuda.get_device_name(device) + ')' if device.type == 'cuda' else ''} amp {args.amp or 'fp32'} attention {'sdpa' if sdpa else 'explicit'} dropout {args.dropout} layerdrop {args.layerdrop} "
          f"batch {args.batch}x{args.seq_len} train tokens {train_tokens} validation tokens {sum(len(v) for v in val_spans)} "
          f"startup {started - T0:.1f}s", flush=True)

    calib_from, calib_to = step + 5, step + 5 + args.calib_steps
    calib_t0 = None
    val_every = args.val_every
    best = {"val_loss": math.inf, "step": -1, "state": None}
    reserve = 5.0  # seconds kept for the final evaluations and export (raised once one evaluation is timed)
    stopped_by_guard = False

    def plan(more):
        """(total steps, decay start) for `more` further steps, capped by --max-epochs."""
        total = step + max(1, more)
        if args.max_epochs:
            total = min(total, max(step + 1, math.ceil(args.max_epochs * train_tokens / tokens_per_step)))
        return total, max(step, total - int(args.decay_frac * total))

    replan_at = None

    def validate():
        t = time.time()
        loss_v = heldout_loss(model, val_spans, args.seq_len, amp, eval_batch)
        if loss_v < best["val_loss"]:
            best.update(val_loss=loss_v, step=step, state={k: v.detach().clone() for k, v in model.state_dict().items()})
        return loss_v, time.time() - t

    while total_steps == 0 or step < total_steps:
        if total_steps == 0 and stable_until and time.time() >= stable_until:
            decay_start, total_steps = step, step + max(50, int(step * args.decay_frac))
            print(f"decay from step {decay_start} to {total_steps}", flush=True)
        if args.max_seconds and step == calib_from:
            if device.type == "cuda":
                torch.cuda.synchronize()
            calib_t0 = time.time()
        if args.max_seconds and total_steps == 0 and step == calib_to:
            if device.type == "cuda":
                torch.cuda.synchronize()
            step_s = (time.time() - calib_t0) / args.calib_steps
            val_s = validate()[1] if val_spans else 0.0
            final_s = 2.5 * (val_s if val_spans else 0.5) * max(1.0, len(heldout) / max(1, sum(len(v) for v in val_spans)))
            reserve = final_s + 3.0
            budget = args.max_seconds - (time.time() - T0) - reserve
            guess_every = val_every or max(1, int(budget / step_s / max(1, args.val_evals)))
            more = max(1, int(0.9 * budget / (step_s + (val_s / guess_every if val_spans else 0.0))))
            total_steps, decay_start = plan(more)
            val_every = val_every or max(1, (total_steps - step) // max(1, args.val_evals))
            replan_at = (step, time.time())
            log({"plan": True, "step": step, "step_s": step_s, "val_s": val_s, "reserve_s": reserve, "steps": total_steps,
                 "decay_start": decay_start, "val_every": val_every,
                 "epochs": total_steps * tokens_per_step / train_tokens, "elapsed_s": round(time.time() - T0, 1)})
        decay = 0.0 if total_steps == 0 or step < decay_start else (step - decay_start) / max(1, total_steps - decay_start)
        lr = args.lr * min(1.0, (step + 1) / warmup) * (1.0 - 0.9 * decay)
        for group in opt.param_groups:
            group["lr"] = lr
        if train_starts is None:
            starts = rng.integers(0, len(train) - args.seq_len - 1, size=args.batch)
        else:
            starts = train_starts[rng.integers(0, len(train_starts), size=args.batch)]
        batch = train_gpu[torch.from_numpy(starts.astype(np.int64)).to(device)[:, None] + window]
        with autocast(device, amp):
            logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if args.max_seconds and (total_steps == 0 or step < total_steps) and time.time() - T0 > args.max_seconds - reserve:
            print(f"time guard: stopping at step {step} of {total_steps or '?'} (LR decay not finished)", flush=True)
            stopped_by_guard = True
            total_steps = step
        last = step == total_steps
        if step % args.print_every == 0:
            rate = step * tokens_per_step / (time.time() - started)
            print(f"step {step}/{total_steps} loss {loss.item():.3f} lr {lr:.2e} {rate:.0f} tok/s", flush=True)
        if args.ckpt_every and (step % args.ckpt_every == 0 or last or step == args.stop_at):
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "total_steps": total_steps,
                        "decay_start": decay_start}, ckpt_path)
            export()
        val_now = val_spans and (last or (val_every and step % val_every == 0))
        if step % args.log_every == 0 or last or step == args.stop_at or val_now:
            entry = {"step": step, "train_loss": loss.item(), "lr": lr, "time_s": round(time.time() - started, 1)}
            if val_now:
                entry["val_loss"] = validate()[0]
                # NOTE: concurrent runs share the GPU, so the step time changes as they start and finish:
                # while the LR is still constant, re-size the schedule from the speed since the last
                # validation (validation time included); once the decay has started it is fixed.
                if replan_at and args.max_seconds and step < decay_start and step > replan_at[0]:
                    eff_s = (time.time() - replan_at[1]) / (step - replan_at[0])
                    budget = args.max_seconds - (time.time() - T0) - reserve
                    total_steps, decay_start = plan(int(0.93 * budget / eff_s))
                    replan_at = (step, time.time())
                    entry.update(replan_steps=total_steps, replan_decay_start=decay_start, step_s=round(eff_s, 5))
            if (args.heldout_every and step % args.heldout_every == 0) or (last and not val_spans):
                entry["heldout_loss"] = heldout_loss(model, heldout, args.seq_len, None, eval_batch)
                entry["heldout_ppl"] = math.exp(entry["heldout_loss"])
            log(entry)
        if step == args.stop_at:
            return

    # The exported model: the best checkpoint by validation loss (with --val-chunks), else the last.
    state = best["state"] if val_spans else None
    shipped = bf16_rounded_copy(model, state)
    final = heldout_loss(shipped, heldout, args.seq_len, None, eval_batch)
    result = {"steps": step, "decay_start": decay_start, "tokens_seen": step * tokens_per_step, "heldout_tokens": int(len(heldout)),
              "heldout_loss_bf16": final, "heldout_ppl_bf16": math.exp(final), "train_seconds": round(time.time() - started)}
    if args.max_seconds or val_spans or device.type != "cpu":
        result.update(device=str(device), amp=args.amp or "fp32", attention="sdpa" if sdpa else "explicit",
                      dropout=args.dropout, layerdrop=args.layerdrop, batch=args.batch, seq_len=args.seq_len, lr=args.lr, warmup=warmup,
                      max_epochs=args.max_epochs, train_tokens=train_tokens,
                      epochs=step * tokens_per_step / train_tokens, stopped_by_time_guard=stopped_by_guard,
                      total_seconds=round(time.time() - T0, 1))
    if val_spans:
        val_bf16 = heldout_loss(shipped, val_spans, args.seq_len, None, eval_batch)
        result.update(validation_tokens=sum(len(v) for v in val_spans), val_chunks=args.val_chunks,
                      val_chunk_len=args.val_chunk_len, best_step=best["step"], val_loss_bf16=val_bf16,
                      val_ppl_bf16=math.exp(val_bf16), exported_steps=best["step"],
                      tokens_seen_by_export=best["step"] * tokens_per_step)
    export(state)
    with open(os.path.join(out_dir, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

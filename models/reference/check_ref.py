"""Self-check of llama_ref.py against a second, differently written formulation (Meta's original Llama style).

The second path un-permutes q/k weights back to Meta's interleaved layout (the inverse of
transformers' convert_llama_weights_to_hf `permute`), rotates with complex numbers, applies
llama3 scaling with Meta's per-frequency loop, and runs attention head by head in float64.
It also checks that each fixture's stored logits and greedy ids are what llama_ref computes.
Usage: /usr/bin/python3 models/reference/check_ref.py [fixture-dir ...]   (default: all test/fixtures/*)
"""
import glob
import json
import math
import os
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True  # no __pycache__ in the repo
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_ref import LlamaRef, logits_as_numpy  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def meta_freqs(cfg):
    dim = cfg.head_dim
    freqs = 1.0 / (cfg.rope_theta ** (np.arange(0, dim, 2)[: dim // 2].astype(np.float64) / dim))
    s = cfg.rope_scaling
    if s is None:
        return freqs
    if s["rope_type"] == "linear":
        return freqs / s["factor"]
    low_wavelen = s["original_max_position_embeddings"] / s["low_freq_factor"]
    high_wavelen = s["original_max_position_embeddings"] / s["high_freq_factor"]
    new = []
    for f in freqs:
        wavelen = 2 * math.pi / f
        if wavelen < high_wavelen:
            new.append(f)
        elif wavelen > low_wavelen:
            new.append(f / s["factor"])
        else:
            smooth = (s["original_max_position_embeddings"] / wavelen - s["low_freq_factor"]) / (s["high_freq_factor"] - s["low_freq_factor"])
            new.append((1 - smooth) * f / s["factor"] + smooth * f)
    return np.array(new)


def unpermute(w, n_heads, head_dim):
    """Inverse of transformers' permute(): HF half-split rows -> Meta interleaved pairs."""
    rows = w.shape[0]
    return w.reshape(n_heads, 2, head_dim // 2, -1).transpose(0, 2, 1, 3).reshape(rows, -1)


def meta_forward(model, ids):
    cfg, W = model.cfg, {k: v.double().numpy() for k, v in model.w.items()}
    get_bias = lambda name, on: W[name] if on else 0.0
    seq, hd = len(ids), cfg.head_dim
    freqs_cis = np.exp(1j * np.outer(np.arange(seq), meta_freqs(cfg)))  # [seq, hd/2]
    rms = lambda x, w: w * x / np.sqrt((x * x).mean(-1, keepdims=True) + cfg.rms_norm_eps)
    h = W["model.embed_tokens.weight"][ids]
    for i in range(cfg.num_layers):
        p = f"model.layers.{i}."
        x = rms(h, W[p + "input_layernorm.weight"])
        a = p + "self_attn."
        # Biases are permuted like the weight rows they belong to.
        qw = unpermute(np.concatenate([W[a + "q_proj.weight"], np.atleast_2d(get_bias(a + "q_proj.bias", cfg.qkv_bias) * np.ones(W[a + "q_proj.weight"].shape[0])).T], 1), cfg.num_heads, hd)
        kw = unpermute(np.concatenate([W[a + "k_proj.weight"], np.atleast_2d(get_bias(a + "k_proj.bias", cfg.qkv_bias) * np.ones(W[a + "k_proj.weight"].shape[0])).T], 1), cfg.num_kv_heads, hd)
        x1 = np.concatenate([x, np.ones((seq, 1))], 1)
        q = (x1 @ qw.T).reshape(seq, cfg.num_heads, hd // 2, 2)
        k = (x1 @ kw.T).reshape(seq, cfg.num_kv_heads, hd // 2, 2)
        v = (x @ W[a + "v_proj.weight"].T + get_bias(a + "v_proj.bias", cfg.qkv_bias)).reshape(seq, cfg.num_kv_heads, hd)
        qc = (q[..., 0] + 1j * q[..., 1]) * freqs_cis[:, None, :]
        kc = (k[..., 0] + 1j * k[..., 1]) * freqs_cis[:, None, :]
        q = np.stack([qc.real, qc.imag], -1).reshape(seq, cfg.num_heads, hd)
        k = np.stack([kc.real, kc.imag], -1).reshape(seq, cfg.num_kv_heads, hd)
        out = np.zeros((seq, cfg.num_heads, hd))
        group = cfg.num_heads // cfg.num_kv_heads
        for head in range(cfg.num_heads):
            kv = head // group
            for t in range(seq):
                lo = 0 if cfg.sliding_window is None else max(0, t - cfg.sliding_window + 1)
                scores = k[lo : t + 1, kv] @ q[t, head] / math.sqrt(hd)
                probs = np.exp(scores - scores.max())
                out[t, head] = (probs / probs.sum()) @ v[lo : t + 1, kv]
        h = h + out.reshape(seq, -1) @ W[a + "o_proj.weight"].T + get_bias(a + "o_proj.bias", cfg.o_bias)
        x = rms(h, W[p + "post_attention_layernorm.weight"])
        m = p + "mlp."
        gate = x @ W[m + "gate_proj.weight"].T + get_bias(m + "gate_proj.bias", cfg.mlp_bias)
        up = x @ W[m + "up_proj.weight"].T + get_bias(m + "up_proj.bias", cfg.mlp_bias)
        act = gate / (1 + np.exp(-gate)) * up
        h = h + act @ W[m + "down_proj.weight"].T + get_bias(m + "down_proj.bias", cfg.mlp_bias)
    h = rms(h, W["model.norm.weight"])
    head_w = W["model.embed_tokens.weight"] if cfg.tie_word_embeddings else W["lm_head.weight"]
    return h @ head_w.T


def check(fixture_dir):
    with open(os.path.join(fixture_dir, "reference.json")) as f:
        ref = json.load(f)
    model_dir = os.path.join(REPO, ref["model_dir"]) if "model_dir" in ref else fixture_dir
    model = LlamaRef.from_folder(model_dir)
    prompt = ref["prompt_ids"]
    ours = logits_as_numpy(model.forward(prompt))
    stored = np.fromfile(os.path.join(fixture_dir, ref["logits_file"]), dtype="<f4").reshape(ref["logits_shape"])
    meta = meta_forward(model, prompt)
    scale = np.abs(meta).max()
    vs_meta = float(np.abs(ours - meta).max() / scale)
    vs_stored = float(np.abs(ours - stored).max() / scale)
    greedy_ok = model.greedy(prompt, len(ref["greedy_ids"]))[0] == ref["greedy_ids"]
    decode_rows = np.fromfile(os.path.join(fixture_dir, ref["decode_logits_file"]), dtype="<f4").reshape(ref["decode_logits_shape"])
    greedy_ok = greedy_ok and [int(t) for t in decode_rows.argmax(1)] == ref["greedy_ids"]
    # Bit-identical on the machine that made the fixtures; another torch/BLAS reorders fp32 sums (~1e-6).
    ok = vs_meta < 1e-5 and vs_stored <= 1e-5 and greedy_ok
    print(f"{os.path.basename(fixture_dir)}: llama_ref vs meta-style float64 {vs_meta:.2e}, vs stored {vs_stored:.1e}, greedy {'same' if greedy_ok else 'DIFFERENT'} -> {'ok' if ok else 'FAIL'}")
    return ok


def main():
    dirs = sys.argv[1:] or sorted(os.path.dirname(p) for p in glob.glob(os.path.join(REPO, "test", "fixtures", "*", "reference.json")))
    results = [check(d) for d in dirs]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

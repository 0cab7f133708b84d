"""Plain PyTorch reference of transformers' LlamaForCausalLM family (Llama, Mistral, Qwen2), for parity fixtures.

Written from transformers' modeling_llama / modeling_rope_utils semantics without importing
transformers (not installed here). It is deliberately naive: no KV cache, every call runs the
whole sequence, so that it shares no cleverness (and no bugs) with the TypeScript engine.
Weights are upcast to float32 (or float64 with dtype=torch.float64, for diagnosis).
"""
import json
import math
import os

import numpy as np
import torch

from safetensors_io import read_safetensors, to_float32

SUPPORTED_ARCHITECTURES = ("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM")


class RefConfig:
    """The fields of an HF config.json that the math needs, with transformers' defaults."""

    def __init__(self, raw):
        arch = (raw.get("architectures") or ["LlamaForCausalLM"])[0]
        if arch not in SUPPORTED_ARCHITECTURES:
            raise ValueError(f"unsupported architecture {arch}")
        self.architecture = arch
        self.model_type = raw.get("model_type", "llama")
        self.vocab_size = raw["vocab_size"]
        self.hidden_size = raw["hidden_size"]
        self.intermediate_size = raw["intermediate_size"]
        self.num_layers = raw["num_hidden_layers"]
        self.num_heads = raw["num_attention_heads"]
        self.num_kv_heads = raw.get("num_key_value_heads") or self.num_heads
        self.head_dim = raw.get("head_dim") or self.hidden_size // self.num_heads
        self.rms_norm_eps = raw.get("rms_norm_eps", 1e-6)
        # Newer transformers nest theta and scaling under rope_parameters.
        rope_params = raw.get("rope_parameters") or {}
        self.rope_theta = rope_params.get("rope_theta", raw.get("rope_theta", 10000.0))
        scaling = raw.get("rope_scaling") or (rope_params if rope_params.get("rope_type", "default") != "default" else None)
        self.rope_scaling = dict(scaling) if scaling else None
        if self.rope_scaling is not None:
            kind = self.rope_scaling.get("rope_type", self.rope_scaling.get("type"))
            if kind == "default":
                self.rope_scaling = None
            elif kind not in ("llama3", "linear"):
                raise ValueError(f"unsupported rope_scaling type {kind}")
            else:
                self.rope_scaling["rope_type"] = kind
        self.max_position_embeddings = raw.get("max_position_embeddings", 2048)
        self.tie_word_embeddings = raw.get("tie_word_embeddings", False)
        if arch == "Qwen2ForCausalLM":
            self.qkv_bias, self.o_bias, self.mlp_bias = True, False, False
        elif arch == "MistralForCausalLM":
            self.qkv_bias, self.o_bias, self.mlp_bias = False, False, False
        else:
            attention_bias = bool(raw.get("attention_bias", False))
            self.qkv_bias, self.o_bias = attention_bias, attention_bias
            self.mlp_bias = bool(raw.get("mlp_bias", False))
        self.sliding_window = raw.get("sliding_window") if arch == "MistralForCausalLM" else None
        if arch == "Qwen2ForCausalLM" and raw.get("use_sliding_window", False):
            raise ValueError("Qwen2 use_sliding_window is not supported by the reference")


def compute_inv_freq(cfg):
    """transformers' _compute_default_rope_parameters, then the llama3 / linear adjustments."""
    dim = cfg.head_dim
    base = cfg.rope_theta
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    scaling = cfg.rope_scaling
    if scaling is None:
        return inv_freq
    if scaling["rope_type"] == "linear":
        return inv_freq / scaling["factor"]
    # _compute_llama3_parameters
    factor = scaling["factor"]
    low_freq_factor = scaling["low_freq_factor"]
    high_freq_factor = scaling["high_freq_factor"]
    old_context_len = scaling["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rms_norm(x, weight, eps):
    """LlamaRMSNorm: statistics in float32, then scaled by the weight."""
    variance = x.to(torch.float32).pow(2).mean(-1, keepdim=True)
    normed = x.to(torch.float32) * torch.rsqrt(variance + eps)
    return weight * normed.to(x.dtype)


def linear(x, weight, bias):
    out = x @ weight.T
    return out if bias is None else out + bias


def load_hf_folder(path):
    """Reads config.json and model.safetensors (or a sharded index) from an HF folder."""
    with open(os.path.join(path, "config.json")) as f:
        raw = json.load(f)
    files = ["model.safetensors"]
    index_path = os.path.join(path, "model.safetensors.index.json")
    if os.path.exists(index_path):
        with open(index_path) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    stored = {}
    for name in files:
        tensors, _ = read_safetensors(os.path.join(path, name))
        stored.update(tensors)
    return raw, stored


class LlamaRef:
    def __init__(self, raw_config, stored_tensors, dtype=torch.float32):
        """stored_tensors: {name: (dtype_str, array)} as read_safetensors returns."""
        self.cfg = RefConfig(raw_config)
        self.dtype = dtype
        self.w = {name: torch.from_numpy(to_float32(dt, arr)).to(dtype) for name, (dt, arr) in stored_tensors.items()}
        self.inv_freq = compute_inv_freq(self.cfg)

    @classmethod
    def from_folder(cls, path, dtype=torch.float32):
        raw, stored = load_hf_folder(path)
        return cls(raw, stored, dtype)

    def _get(self, name, required=True):
        if name in self.w:
            return self.w[name]
        if required:
            raise KeyError(f"missing tensor {name}")
        return None

    def _rope(self, num_tokens):
        # LlamaRotaryEmbedding.forward: float32 outer product, cat(freqs, freqs), cos/sin.
        positions = torch.arange(num_tokens, dtype=torch.float32)
        freqs = positions[:, None] * self.inv_freq[None, :].float()
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(self.dtype), emb.sin().to(self.dtype)

    def _attention(self, i, x, cos, sin, trace):
        cfg = self.cfg
        p = f"model.layers.{i}.self_attn."
        seq = x.shape[0]
        bias = lambda n: self._get(p + n + ".bias", required=True) if (cfg.qkv_bias and n != "o_proj") or (cfg.o_bias and n == "o_proj") else None
        q = linear(x, self._get(p + "q_proj.weight"), bias("q_proj")).view(seq, cfg.num_heads, cfg.head_dim).transpose(0, 1)
        k = linear(x, self._get(p + "k_proj.weight"), bias("k_proj")).view(seq, cfg.num_kv_heads, cfg.head_dim).transpose(0, 1)
        v = linear(x, self._get(p + "v_proj.weight"), bias("v_proj")).view(seq, cfg.num_kv_heads, cfg.head_dim).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if trace is not None:
            trace[f"layer{i}.q_rope"], trace[f"layer{i}.k_rope"], trace[f"layer{i}.v"] = q, k, v
        # repeat_kv: query head h reads kv head h // n_rep.
        n_rep = cfg.num_heads // cfg.num_kv_heads
        k = k[:, None].expand(cfg.num_kv_heads, n_rep, seq, cfg.head_dim).reshape(cfg.num_heads, seq, cfg.head_dim)
        v = v[:, None].expand(cfg.num_kv_heads, n_rep, seq, cfg.head_dim).reshape(cfg.num_heads, seq, cfg.head_dim)
        scores = (q @ k.transpose(1, 2)) * (cfg.head_dim ** -0.5)
        qi = torch.arange(seq)[:, None]
        ki = torch.arange(seq)[None, :]
        allowed = ki <= qi
        if cfg.sliding_window is not None:
            allowed = allowed & (qi - ki < cfg.sliding_window)
        scores = scores.masked_fill(~allowed, float("-inf"))
        probs = torch.softmax(scores.to(torch.float32), dim=-1).to(self.dtype)
        out = (probs @ v).transpose(0, 1).reshape(seq, cfg.num_heads * cfg.head_dim)
        return linear(out, self._get(p + "o_proj.weight"), bias("o_proj"))

    def _mlp(self, i, x):
        p = f"model.layers.{i}.mlp."
        b = (lambda n: self._get(p + n + ".bias")) if self.cfg.mlp_bias else (lambda n: None)
        gate = linear(x, self._get(p + "gate_proj.weight"), b("gate_proj"))
        up = linear(x, self._get(p + "up_proj.weight"), b("up_proj"))
        return linear(torch.nn.functional.silu(gate) * up, self._get(p + "down_proj.weight"), b("down_proj"))

    @torch.no_grad()
    def forward(self, input_ids, trace=None, layer_indices=None):
        """input_ids: list of ints -> logits [len, vocab]. trace: optional dict filled with intermediates.
        layer_indices: run only these blocks, in the given order (depth switching); all when None."""
        cfg = self.cfg
        ids = torch.tensor(list(input_ids), dtype=torch.int64)
        if ids.numel() == 0 or int(ids.min()) < 0 or int(ids.max()) >= cfg.vocab_size:
            raise ValueError("input ids must be non-empty and inside the vocabulary")
        h = self._get("model.embed_tokens.weight")[ids]
        cos, sin = self._rope(ids.numel())
        if trace is not None:
            trace["embed"] = h
        for i in range(cfg.num_layers) if layer_indices is None else layer_indices:
            p = f"model.layers.{i}."
            attn = self._attention(i, rms_norm(h, self._get(p + "input_layernorm.weight"), cfg.rms_norm_eps), cos, sin, trace)
            h = h + attn
            if trace is not None:
                trace[f"layer{i}.attn_out"], trace[f"layer{i}.after_attn"] = attn, h
            h = h + self._mlp(i, rms_norm(h, self._get(p + "post_attention_layernorm.weight"), cfg.rms_norm_eps))
            if trace is not None:
                trace[f"layer{i}.out"] = h
        h = rms_norm(h, self._get("model.norm.weight"), cfg.rms_norm_eps)
        if trace is not None:
            trace["final_norm"] = h
        head = self._get("model.embed_tokens.weight") if cfg.tie_word_embeddings else self._get("lm_head.weight")
        return (h @ head.T).to(torch.float32)

    def greedy(self, prompt_ids, num_tokens):
        """Greedy continuation by full recomputation. Returns (ids, per-step top1-top2 logit margins)."""
        ids = list(prompt_ids)
        out, margins = [], []
        for _ in range(num_tokens):
            last = self.forward(ids)[-1]
            top2 = torch.topk(last, 2)
            token = int(top2.indices[0])
            margins.append(float(top2.values[0] - top2.values[1]))
            out.append(token)
            ids.append(token)
        return out, margins


def logits_as_numpy(logits):
    return np.ascontiguousarray(logits.detach().to(torch.float32).numpy())

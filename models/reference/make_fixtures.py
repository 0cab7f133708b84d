"""Generates the parity fixtures: tiny seeded random HF checkpoints plus reference logits and greedy ids.

Usage (from the repo root; Debian's python has torch + numpy):
  /usr/bin/python3 models/reference/make_fixtures.py              # all variants -> test/fixtures/<variant>/
  /usr/bin/python3 models/reference/make_fixtures.py --only qwen2-bias
  /usr/bin/python3 models/reference/make_fixtures.py --default     # models/default -> test/fixtures/default-reference/
Everything is seeded: re-running rewrites byte-identical files.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True  # no __pycache__ in the repo
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_ref import LlamaRef, compute_inv_freq, load_hf_folder, logits_as_numpy  # noqa: E402
from safetensors_io import f32_to_bf16_bits, write_safetensors  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PROMPT_LEN = 64
GREEDY_LEN = 32
TOLERANCE = 1e-4  # max|Δ| / max|ref| the engine must meet
# A greedy step whose top-1/top-2 gap is below this fraction of max|logit| could flip on
# rounding alone; random prompts are re-drawn until every step clears it.
MIN_RELATIVE_MARGIN = 1e-3

BASE = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, rms_norm_eps=1e-5,
            max_position_embeddings=512, bos_token_id=1, eos_token_id=2)

# NOTE: stds are larger than a trained model's 0.02 on purpose: with tiny q/k weights attention
# is uniform and RoPE, masking and head mapping would not change the logits, so a broken
# engine could still pass. q/k std 0.2 gives attention scores of std ~2.5.
VARIANTS = {
    "llama-gqa": dict(
        description="Llama, GQA ratio 2 (4 q heads, 2 kv heads), untied lm_head, fp32",
        dtype="F32", seed=101,
        config=dict(architectures=["LlamaForCausalLM"], model_type="llama", vocab_size=256,
                    intermediate_size=64, num_key_value_heads=2, rope_theta=10000.0,
                    tie_word_embeddings=False, attention_bias=False, mlp_bias=False)),
    "llama-mha-tied": dict(
        description="Llama, GQA ratio 1 (MHA), tied embeddings, fp32",
        dtype="F32", seed=202,
        config=dict(architectures=["LlamaForCausalLM"], model_type="llama", vocab_size=288,
                    intermediate_size=64, num_key_value_heads=4, rope_theta=10000.0,
                    tie_word_embeddings=True, attention_bias=False, mlp_bias=False)),
    "qwen2-bias": dict(
        description="Qwen2, q/k/v biases, GQA ratio 2, tied embeddings, rope_theta 1e6, fp32",
        dtype="F32", seed=303,
        config=dict(architectures=["Qwen2ForCausalLM"], model_type="qwen2", vocab_size=320,
                    intermediate_size=64, num_key_value_heads=2, rope_theta=1000000.0,
                    tie_word_embeddings=True, use_sliding_window=False, sliding_window=None,
                    max_window_layers=2, rms_norm_eps=1e-6)),
    "llama3-rope": dict(
        # head_dim 32 with theta 5e5 and original_max_position_embeddings 256 puts 3 frequencies
        # in the untouched band (wavelength < 64), 2 in the smoothed band and 11 in the divided one.
        description="Llama 3 rope_scaling (llama3, factor 8), head_dim 32, GQA ratio 2, tied, bf16 weights",
        dtype="BF16", seed=404,
        config=dict(architectures=["LlamaForCausalLM"], model_type="llama", vocab_size=256,
                    intermediate_size=96, num_attention_heads=2, num_key_value_heads=1,
                    rope_theta=500000.0, max_position_embeddings=2048, tie_word_embeddings=True,
                    attention_bias=False, mlp_bias=False,
                    rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                      high_freq_factor=4.0, original_max_position_embeddings=256))),
    "llama-bias-linear": dict(
        description="Llama with attention_bias (q/k/v/o) and mlp_bias, rope_scaling linear (factor 2), 8 q / 2 kv heads (ratio 4), head_dim 8, untied, fp32",
        dtype="F32", seed=606,
        config=dict(architectures=["LlamaForCausalLM"], model_type="llama", vocab_size=256,
                    intermediate_size=64, num_attention_heads=8, num_key_value_heads=2, rope_theta=10000.0,
                    tie_word_embeddings=False, attention_bias=True, mlp_bias=True,
                    rope_scaling=dict(rope_type="linear", factor=2.0))),
    "mistral": dict(
        description="Mistral, sliding_window null, explicit head_dim 32 (q width 128 != hidden 64), GQA ratio 2, untied, fp16 weights",
        dtype="F16", seed=505,
        config=dict(architectures=["MistralForCausalLM"], model_type="mistral", vocab_size=256,
                    intermediate_size=64, num_key_value_heads=2, head_dim=32, rope_theta=10000.0,
                    sliding_window=None, tie_word_embeddings=False)),
}


def full_config(variant):
    cfg = dict(BASE)
    cfg.update(VARIANTS[variant]["config"])
    cfg["torch_dtype"] = {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}[VARIANTS[variant]["dtype"]]
    return cfg


def random_weights(cfg, seed):
    """Seeded float32 weights named as transformers names them."""
    rng = np.random.default_rng(seed)
    hidden, inter, vocab = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    heads, kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    head_dim = cfg.get("head_dim") or hidden // heads
    arch = cfg["architectures"][0]
    qkv_bias = arch == "Qwen2ForCausalLM" or cfg.get("attention_bias", False)
    o_bias = arch == "LlamaForCausalLM" and cfg.get("attention_bias", False)
    mlp_bias = arch == "LlamaForCausalLM" and cfg.get("mlp_bias", False)
    normal = lambda shape, std: (rng.standard_normal(shape) * std).astype(np.float32)
    norm = lambda: (1.0 + rng.standard_normal(hidden) * 0.1).astype(np.float32)
    w = {"model.embed_tokens.weight": normal((vocab, hidden), 0.25)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = norm()
        w[p + "post_attention_layernorm.weight"] = norm()
        for name, rows, std in (("q_proj", heads * head_dim, 0.2), ("k_proj", kv * head_dim, 0.2), ("v_proj", kv * head_dim, 0.125)):
            w[p + f"self_attn.{name}.weight"] = normal((rows, hidden), std)
            if qkv_bias:
                w[p + f"self_attn.{name}.bias"] = normal((rows,), 0.5)
        w[p + "self_attn.o_proj.weight"] = normal((hidden, heads * head_dim), 0.125)
        if o_bias:
            w[p + "self_attn.o_proj.bias"] = normal((hidden,), 0.1)
        w[p + "mlp.gate_proj.weight"] = normal((inter, hidden), 0.125)
        w[p + "mlp.up_proj.weight"] = normal((inter, hidden), 0.125)
        w[p + "mlp.down_proj.weight"] = normal((hidden, inter), 0.125)
        if mlp_bias:
            for name, size in (("gate_proj", inter), ("up_proj", inter), ("down_proj", hidden)):
                w[p + f"mlp.{name}.bias"] = normal((size,), 0.1)
    w["model.norm.weight"] = norm()
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = normal((vocab, hidden), 0.25)
    return w


def encode_stored(weights, dtype):
    """float32 weights -> {name: (dtype, stored array)} in the checkpoint's storage dtype."""
    if dtype == "F32":
        return {k: ("F32", v) for k, v in weights.items()}
    if dtype == "F16":
        return {k: ("F16", v.astype(np.float16)) for k, v in weights.items()}
    return {k: ("BF16", f32_to_bf16_bits(v)) for k, v in weights.items()}


def relative_diff(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def sensitivity(model, prompt, ref_logits):
    """How far the logits move under plausible engine bugs; each must be far above TOLERANCE."""
    out = {}
    saved_inv = model.inv_freq
    model.inv_freq = torch.zeros_like(saved_inv)
    out["no_rope"] = relative_diff(logits_as_numpy(model.forward(prompt)), ref_logits)
    model.inv_freq = saved_inv
    if model.cfg.rope_scaling is not None:
        scaling = model.cfg.rope_scaling
        model.cfg.rope_scaling = None
        model.inv_freq = compute_inv_freq(model.cfg)
        out["rope_scaling_ignored"] = relative_diff(logits_as_numpy(model.forward(prompt)), ref_logits)
        model.cfg.rope_scaling = scaling
        model.inv_freq = saved_inv
    if model.cfg.qkv_bias:
        model.cfg.qkv_bias = False
        out["qkv_bias_ignored"] = relative_diff(logits_as_numpy(model.forward(prompt)), ref_logits)
        model.cfg.qkv_bias = True
    if model.cfg.o_bias or model.cfg.mlp_bias:
        saved_flags = (model.cfg.o_bias, model.cfg.mlp_bias)
        model.cfg.o_bias, model.cfg.mlp_bias = False, False
        out["o_and_mlp_bias_ignored"] = relative_diff(logits_as_numpy(model.forward(prompt)), ref_logits)
        model.cfg.o_bias, model.cfg.mlp_bias = saved_flags
    if 1 < model.cfg.num_kv_heads < model.cfg.num_heads:
        # Wrong GQA mapping: query head h reading kv head h % numKvHeads instead of h // nRep.
        out["gqa_mapping_interleaved"] = gqa_interleaved_diff(model, prompt, ref_logits)
    return {k: round(v, 6) for k, v in out.items()}


def gqa_interleaved_diff(model, prompt, ref_logits):
    """Permutes q_proj head blocks so that h // nRep == old h % numKv: the same as a wrong mapping."""
    cfg = model.cfg
    n_rep = cfg.num_heads // cfg.num_kv_heads
    # new head h takes old head perm[h] where perm makes new mapping (h // n_rep) mimic old (h % kv).
    perm = [(h % n_rep) * cfg.num_kv_heads + h // n_rep for h in range(cfg.num_heads)]
    saved = {}
    for i in range(cfg.num_layers):
        name = f"model.layers.{i}.self_attn.q_proj.weight"
        saved[name] = model.w[name]
        blocks = model.w[name].view(cfg.num_heads, cfg.head_dim, -1)
        model.w[name] = blocks[perm].reshape(saved[name].shape)
    diff = relative_diff(logits_as_numpy(model.forward(prompt)), ref_logits)
    model.w.update(saved)
    return diff


def decode_logits(model, prompt, greedy):
    """Row j: the logits that chose greedy[j] (after prompt + greedy[:j]), for checking KV-cache decode steps."""
    rows = logits_as_numpy(model.forward(prompt + greedy[:-1]))
    return rows[len(prompt) - 1 :]


def depth_reference(model, prompt):
    """Prompt logits with the middle block skipped (depth switching): (layer indices, logits)."""
    skipped = model.cfg.num_layers // 2
    layers = [i for i in range(model.cfg.num_layers) if i != skipped]
    return layers, logits_as_numpy(model.forward(prompt, layer_indices=layers))


def write_reference(out_dir, info, logits, decode_rows, depth_logits):
    logits.astype("<f4").tofile(os.path.join(out_dir, "logits.bin"))
    decode_rows.astype("<f4").tofile(os.path.join(out_dir, "decode-logits.bin"))
    depth_logits.astype("<f4").tofile(os.path.join(out_dir, "depth-logits.bin"))
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")


def check_margins(margins, max_abs, where):
    worst = min(margins) / max_abs
    return worst, worst >= MIN_RELATIVE_MARGIN


def make_variant(variant):
    spec = VARIANTS[variant]
    cfg = full_config(variant)
    out_dir = os.path.join(REPO, "test", "fixtures", variant)
    os.makedirs(out_dir, exist_ok=True)
    stored = encode_stored(random_weights(cfg, spec["seed"]), spec["dtype"])
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
        f.write("\n")
    write_safetensors(os.path.join(out_dir, "model.safetensors"), stored)
    # Re-read what was written, so the reference sees exactly the committed bytes.
    raw, tensors = load_hf_folder(out_dir)
    model = LlamaRef(raw, tensors)
    rng = np.random.default_rng(spec["seed"] + 1)
    for attempt in range(20):
        prompt = [int(t) for t in rng.integers(3, cfg["vocab_size"], PROMPT_LEN)]
        logits = logits_as_numpy(model.forward(prompt))
        greedy, margins = model.greedy(prompt, GREEDY_LEN)
        worst, ok = check_margins(margins, float(np.max(np.abs(logits))), variant)
        # An EOS/BOS id inside the continuation would end engine-level generation early, so
        # the fixture's greedy ids stay clear of the special ids (CLI and worker checks use them).
        special = [t for t in greedy if t in (cfg["bos_token_id"], cfg["eos_token_id"], 0)]
        if ok and not special:
            break
        print(f"{variant}: prompt attempt {attempt}: greedy margin {worst:.2e}, special ids {special}; redrawing")
    else:
        raise SystemExit(f"{variant}: no prompt with safe greedy margins")
    info = dict(
        variant=variant, description=spec["description"], generator="models/reference/make_fixtures.py",
        storage_dtype=spec["dtype"], prompt_ids=prompt, greedy_ids=greedy,
        greedy_min_relative_margin=round(worst, 6), logits_file="logits.bin", decode_logits_file="decode-logits.bin", logits_dtype="float32-le",
        logits_shape=[PROMPT_LEN, cfg["vocab_size"]], decode_logits_shape=[GREEDY_LEN, cfg["vocab_size"]], max_abs_logit=float(np.max(np.abs(logits))),
        tolerance=TOLERANCE, sensitivity=sensitivity(model, prompt, logits))
    depth_layers, depth_logits = depth_reference(model, prompt)
    info["depth"] = dict(layer_indices=depth_layers, logits_file="depth-logits.bin")
    write_reference(out_dir, info, logits, decode_logits(model, prompt, greedy), depth_logits)
    size_kb = os.path.getsize(os.path.join(out_dir, "model.safetensors")) / 1024
    print(f"{variant}: {size_kb:.0f} KB weights, greedy margin {worst:.3f}, sensitivity {info['sensitivity']}")


DEFAULT_TEXT = (
    "The old man walked slowly down the road toward the village. It was late in the afternoon, "
    "and the sun was low over the hills. He had been to the market in the town, where he had sold "
    "his vegetables and bought a new coat for the winter. As he walked, he thought about his son, "
    "who had gone away to the city many years ago and had not come back."
)


def tokenize_with_node(model_dir, text):
    """Token ids of `text` via @huggingface/tokenizers (the same library the runtime uses), no special tokens."""
    script = (
        "import { Tokenizer } from '@huggingface/tokenizers';"
        "import { readFileSync, existsSync } from 'node:fs';"
        "const dir = process.argv[1];"
        "const tj = JSON.parse(readFileSync(dir + '/tokenizer.json', 'utf8'));"
        "const cp = dir + '/tokenizer_config.json';"
        "const tc = existsSync(cp) ? JSON.parse(readFileSync(cp, 'utf8')) : {};"
        "const t = new Tokenizer(tj, tc);"
        "process.stdout.write(JSON.stringify(t.encode(process.argv[2], { add_special_tokens: false }).ids));"
    )
    result = subprocess.run(["node", "--input-type=module", "-e", script, model_dir, text],
                            cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_default(model_dir, out_dir):
    raw, tensors = load_hf_folder(model_dir)
    model = LlamaRef(raw, tensors)
    ids = tokenize_with_node(model_dir, DEFAULT_TEXT)
    bos = raw.get("bos_token_id")
    prompt = ([bos] if isinstance(bos, int) else []) + ids
    if len(prompt) < PROMPT_LEN:
        raise SystemExit(f"default prompt text gives only {len(prompt)} tokens; need {PROMPT_LEN}")
    prompt = prompt[:PROMPT_LEN]
    logits = logits_as_numpy(model.forward(prompt))
    greedy, margins = model.greedy(prompt, GREEDY_LEN)
    worst, ok = check_margins(margins, float(np.max(np.abs(logits))), "default")
    if not ok:
        print(f"WARNING: default model greedy margin {worst:.2e} is below {MIN_RELATIVE_MARGIN}; a rounding-level flip is possible")
    os.makedirs(out_dir, exist_ok=True)
    weights_file = os.path.join(model_dir, "model.safetensors")
    info = dict(
        variant="default-reference", description=f"reference run of {os.path.relpath(model_dir, REPO)} (weights not copied)",
        generator="models/reference/make_fixtures.py --default", model_dir=os.path.relpath(model_dir, REPO),
        model_sha256=sha256_file(weights_file), config_sha256=sha256_file(os.path.join(model_dir, "config.json")),
        prompt_text_prefix=DEFAULT_TEXT[:80], prompt_ids=prompt, greedy_ids=greedy,
        greedy_min_relative_margin=round(worst, 6), logits_file="logits.bin", decode_logits_file="decode-logits.bin", logits_dtype="float32-le",
        logits_shape=[PROMPT_LEN, raw["vocab_size"]], decode_logits_shape=[GREEDY_LEN, raw["vocab_size"]], max_abs_logit=float(np.max(np.abs(logits))),
        tolerance=TOLERANCE)
    depth_layers, depth_logits = depth_reference(model, prompt)
    info["depth"] = dict(layer_indices=depth_layers, logits_file="depth-logits.bin")
    write_reference(out_dir, info, logits, decode_logits(model, prompt, greedy), depth_logits)
    print(f"default: model sha256 {info['model_sha256'][:12]}, greedy margin {worst:.4f}, greedy {greedy}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=sorted(VARIANTS), help="generate only this variant (repeatable)")
    parser.add_argument("--default", action="store_true", help="run the reference on the bundled model instead")
    parser.add_argument("--model", default=os.path.join(REPO, "models", "default"), help="model folder for --default")
    parser.add_argument("--out", default=os.path.join(REPO, "test", "fixtures", "default-reference"), help="output folder for --default")
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.default:
        make_default(os.path.abspath(args.model), os.path.abspath(args.out))
        return
    for variant in args.only or list(VARIANTS):
        make_variant(variant)


if __name__ == "__main__":
    main()

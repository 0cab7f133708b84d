#!/usr/bin/env python3
"""Held-out perplexity of a model.safetensors computed by the independent reference (models/reference/llama_ref.py),
not by train.py's model code: confirms that weights returned by a training run mean what result.json says.

  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 models/train/check-weights.py --model-file <model.safetensors> \
      [--config models/default/config.json] [--result <result.json>] [--max-windows N]

Scores heldout.bin exactly as train.py does (consecutive 512-token windows, stride 512, each window a fresh
sequence, fp32 compute on the BF16 weights). With --result, exits 1 when the perplexity differs from
result.json's heldout_ppl_bf16 by more than 0.5% (scoring all windows) - different BLAS and kernels give
small float differences, not that much.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "models", "reference"))
from llama_ref import LlamaRef  # noqa: E402
from safetensors_io import read_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-file", default=os.path.join(REPO, "models", "default", "model.safetensors"))
    ap.add_argument("--config", default=os.path.join(REPO, "models", "default", "config.json"))
    ap.add_argument("--heldout", default=os.path.join(REPO, "models", "train", "work", "heldout.bin"))
    ap.add_argument("--result", default="", help="result.json of the run that produced the weights")
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--max-windows", type=int, default=0, help="score only the first N windows (0: all)")
    args = ap.parse_args()

    torch.set_num_threads(int(os.environ.get("OPENBLAS_NUM_THREADS", "1")))
    with open(args.config) as f:
        config = json.load(f)
    tensors, _ = read_safetensors(args.model_file)
    bad = sorted(name for name, (dtype, _) in tensors.items() if dtype != "BF16")
    if bad:
        raise SystemExit(f"not BF16: {bad}")
    model = LlamaRef(config, tensors)
    tokens = np.fromfile(args.heldout, dtype=np.uint16).astype(np.int64)
    starts = [s for s in range(0, len(tokens) - 1, args.seq_len) if len(tokens) - s >= 2]
    if args.max_windows:
        starts = starts[: args.max_windows]
    total, count, t0 = 0.0, 0, time.time()
    for s in starts:
        chunk = tokens[s : s + args.seq_len + 1]
        logits = model.forward(chunk[:-1].tolist())
        total += F.cross_entropy(logits, torch.from_numpy(chunk[1:]), reduction="sum").item()
        count += len(chunk) - 1
    loss = total / count
    report = {"windows": len(starts), "tokens": count, "heldout_loss": loss, "heldout_ppl": math.exp(loss),
              "seconds": round(time.time() - t0, 1)}
    rc = 0
    if args.result:
        with open(args.result) as f:
            claimed = json.load(f)["heldout_ppl_bf16"]
        report["result_json_ppl"] = claimed
        report["relative_difference"] = abs(math.exp(loss) - claimed) / claimed
        if not args.max_windows and report["relative_difference"] > 0.005:
            rc = 1
    print(json.dumps(report), flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())

"""Checks the stored fixtures (made by llama_ref.py) against real transformers, where transformers is installed.

transformers is not installed on the project's machines; the GPU machine lent to some
sessions has it (with safetensors). Runs on the CPU in float32 with eager attention, so the
comparison is with the same arithmetic the fixtures promise.
Usage: python3 models/reference/check_transformers.py [--out report.json] [fixture-dir ...]
"""
import argparse
import glob
import json
import os
import sys

import numpy as np
import torch

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def load_model(model_dir):
    import transformers

    kwargs = dict(attn_implementation="eager")
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, **kwargs)
    except TypeError:
        model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32, **kwargs)
    return model.eval()


@torch.no_grad()
def logits_of(model, ids):
    out = model(input_ids=torch.tensor([ids], dtype=torch.int64), use_cache=False)
    return out.logits[0].float().numpy()


def rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def check(fixture_dir):
    with open(os.path.join(fixture_dir, "reference.json")) as f:
        ref = json.load(f)
    model_dir = os.path.join(REPO, ref["model_dir"]) if "model_dir" in ref else fixture_dir
    model = load_model(model_dir)
    prompt, greedy = ref["prompt_ids"], ref["greedy_ids"]
    stored = np.fromfile(os.path.join(fixture_dir, ref["logits_file"]), dtype="<f4").reshape(ref["logits_shape"])
    decode = np.fromfile(os.path.join(fixture_dir, ref["decode_logits_file"]), dtype="<f4").reshape(ref["decode_logits_shape"])
    hf_prompt = logits_of(model, prompt)
    hf_seq = logits_of(model, prompt + greedy[:-1])[len(prompt) - 1 :]
    # Greedy by full recomputation, like the reference: no cache, no EOS handling.
    ids, hf_greedy = list(prompt), []
    for _ in range(len(greedy)):
        token = int(np.argmax(logits_of(model, ids)[-1]))
        hf_greedy.append(token)
        ids.append(token)
    result = dict(
        fixture=os.path.basename(fixture_dir),
        architecture=type(model).__name__,
        prompt_logits_rel=rel(stored, hf_prompt),
        decode_logits_rel=rel(decode, hf_seq),
        greedy_same=hf_greedy == greedy,
        first_greedy_difference=next((i for i, (a, b) in enumerate(zip(hf_greedy, greedy)) if a != b), None),
    )
    result["ok"] = result["prompt_logits_rel"] <= 1e-5 and result["decode_logits_rel"] <= 1e-5 and result["greedy_same"]
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("dirs", nargs="*")
    args = parser.parse_args()
    try:
        import transformers
    except ImportError:
        print("check_transformers: error: transformers is not installed here", file=sys.stderr)
        return 2
    torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    dirs = args.dirs or sorted(os.path.dirname(p) for p in glob.glob(os.path.join(REPO, "test", "fixtures", "*", "reference.json")))
    results = []
    for d in dirs:
        try:
            r = check(d)
        except Exception as err:  # report every fixture, even when one cannot load
            r = dict(fixture=os.path.basename(d), ok=False, error=f"{type(err).__name__}: {err}")
        results.append(r)
        print(json.dumps(r))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(dict(transformers=transformers.__version__, torch=torch.__version__, results=results), f, indent=1)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

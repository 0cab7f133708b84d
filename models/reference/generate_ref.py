"""Prints the reference greedy continuation of a prompt (token ids) for any HF folder, for manual parity checks.

Compare with:  edgewise generate --model DIR --prompt-ids 5,17,33 --print-ids --temperature 0 --max-tokens N
Usage:         /usr/bin/python3 models/reference/generate_ref.py DIR 5,17,33 [--max-tokens 32] [--margins]
The last line printed is the generated ids, comma-separated (the same shape as --print-ids).
"""
import argparse
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the repo
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_ref import LlamaRef  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="HF folder (config.json + model.safetensors)")
    parser.add_argument("prompt_ids", help="comma-separated token ids, used exactly as given (no BOS added)")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--margins", action="store_true", help="also print each step's top-1 minus top-2 logit gap")
    args = parser.parse_args()
    try:
        prompt = [int(t) for t in args.prompt_ids.split(",") if t.strip()]
        model = LlamaRef.from_folder(args.model)
        ids, margins = model.greedy(prompt, args.max_tokens)
    except (OSError, ValueError, KeyError) as err:
        print(f"generate_ref: error: {err}", file=sys.stderr)
        return 1
    if args.margins:
        print("margins: " + ",".join(f"{m:.4g}" for m in margins))
    print(",".join(str(t) for t in ids))
    return 0


if __name__ == "__main__":
    sys.exit(main())

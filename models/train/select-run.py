#!/usr/bin/env python3
"""Picks the best run of a device-train.sh sweep and writes what the device returns.

Each run folder (under --runs) holds train.py's result.json, train-log.jsonl, export/model.safetensors
and console.txt. The run with the lowest validation loss (val_loss_bf16: weights rounded to BF16,
fp32 compute, on spans of the training split that no run trained on) is chosen; the held-out
perplexity is reported for every run but plays no part in the choice. Its model.safetensors is
checked against --reference (same tensor names, dtypes, shapes, byte offsets, header length and
file size) before it is copied to --out. Needs only the standard library (no torch).

Writes to --out: model.safetensors, result.json (the chosen run's result, the layout check and a
table of all runs), train-log.jsonl (every run's log, each line tagged with "run"), console.txt.
"""
import argparse
import json
import os
import shutil
import struct
import sys


def safetensors_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    return n, header, os.path.getsize(path)


def layout_problems(path, reference):
    """Differences between two safetensors files' layouts (empty list: identical layout)."""
    n, h, size = safetensors_header(path)
    rn, rh, rsize = safetensors_header(reference)
    problems = []
    if set(h) != set(rh):
        problems.append(f"tensor names differ: only here {sorted(set(h) - set(rh))}, only in reference {sorted(set(rh) - set(h))}")
    for name in sorted(set(h) & set(rh)):
        if name == "__metadata__":
            continue
        for key in ("dtype", "shape", "data_offsets"):
            if h[name][key] != rh[name][key]:
                problems.append(f"{name}: {key} {h[name][key]} != reference {rh[name][key]}")
    if list(h) != list(rh):
        problems.append("tensor order in the header differs")
    if (n, size) != (rn, rsize):
        problems.append(f"header length / file size {n}/{size} != reference {rn}/{rsize}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", required=True, help="folder with one subfolder per run")
    ap.add_argument("--out", required=True)
    ap.add_argument("--reference", default="models/default/model.safetensors")
    ap.add_argument("--note", default="", help="free text stored in result.json (device, script timing)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    runs, logs, consoles = [], [], []
    for name in sorted(os.listdir(args.runs)):
        folder = os.path.join(args.runs, name)
        if not os.path.isdir(folder):
            continue
        console = os.path.join(folder, "console.txt")
        if os.path.exists(console):
            with open(console, errors="replace") as f:
                text = f.read()
            consoles.append(f"===== {name} =====\n" + (text if len(text) < 200_000 else text[:20_000] + "\n[...]\n" + text[-100_000:]))
        log = os.path.join(folder, "train-log.jsonl")
        if os.path.exists(log):
            with open(log) as f:
                for line in f:
                    if line.strip():
                        logs.append(json.dumps({"run": name, **json.loads(line)}))
        result_path = os.path.join(folder, "result.json")
        model_path = os.path.join(folder, "export", "model.safetensors")
        row = {"run": name}
        if os.path.exists(result_path) and os.path.exists(model_path):
            with open(result_path) as f:
                row.update(json.load(f))
        else:
            row["error"] = "no result.json / model.safetensors (crashed or killed: see console.txt)"
        runs.append(row)

    with open(os.path.join(args.out, "train-log.jsonl"), "w") as f:
        f.write("\n".join(logs) + ("\n" if logs else ""))
    with open(os.path.join(args.out, "console.txt"), "w") as f:
        f.write("\n".join(consoles))

    finished = [r for r in runs if "error" not in r and r.get("val_loss_bf16") is not None and r["val_loss_bf16"] == r["val_loss_bf16"]]
    table = [{k: r.get(k) for k in ("run", "dropout", "max_epochs", "steps", "decay_start", "epochs", "best_step",
                                    "val_loss_bf16", "heldout_ppl_bf16", "stopped_by_time_guard", "attention",
                                    "total_seconds", "error")} for r in runs]
    for row in table:
        print(json.dumps(row), flush=True)
    if not finished:
        with open(os.path.join(args.out, "result.json"), "w") as f:
            json.dump({"chosen": None, "runs": table, "note": args.note}, f, indent=2)
        print("no run finished: nothing to install", file=sys.stderr)
        return 1
    chosen = min(finished, key=lambda r: r["val_loss_bf16"])
    model_path = os.path.join(args.runs, chosen["run"], "export", "model.safetensors")
    problems = layout_problems(model_path, args.reference) if os.path.exists(args.reference) else ["reference missing"]
    shutil.copyfile(model_path, os.path.join(args.out, "model.safetensors"))
    result = {"chosen": chosen["run"], "selected_by": "lowest val_loss_bf16 (validation spans of the training split)",
              "layout_matches_reference": not problems, "layout_problems": problems, **chosen, "runs": table, "note": args.note}
    with open(os.path.join(args.out, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(f"chosen {chosen['run']}: val loss {chosen['val_loss_bf16']:.4f}, held-out ppl (BF16) {chosen['heldout_ppl_bf16']:.2f}, "
          f"{chosen['epochs']:.1f} epochs, best step {chosen.get('best_step')} of {chosen['steps']}; "
          f"layout {'matches the reference' if not problems else 'DIFFERS: ' + '; '.join(problems)}", flush=True)
    return 0 if not problems else 2


if __name__ == "__main__":
    sys.exit(main())

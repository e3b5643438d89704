#!/usr/bin/env python3
"""Loads folders that biolore trained in the reference Python libraries and compares outputs.

  --encoder DIR --texts FILE   a sentence-transformers folder (`train contrastive`,
                               `train link-dense`, …): sentence-transformers encodes the texts
                               (one per line) and `biolore embed` does too; prints the minimum
                               and mean cosine between the two.
  --decoder DIR --prompts FILE a decoder folder (`train lm`, `train link-generative`,
                               `train link-dpo`): transformers' AutoModelForCausalLM and
                               AutoTokenizer load it, and for the first --n prompts (JSONL with a
                               `prompt` field, such as the `link-examples.jsonl` the generator
                               wrote, or plain lines) both write a greedy answer as a chat turn
                               (`biolore generate`); prints how many answers are equal.
  --bin BIN                    the biolore binary (default: target/release/biolore).

Needs a Python environment with torch, transformers and sentence-transformers (the one
../shared/tools/compare_ort.py describes). Prints one JSON object.
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

root = pathlib.Path(__file__).resolve().parent.parent


def read_lines(path, field):
    out = []
    for line in pathlib.Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        if field and line.lstrip().startswith("{"):
            line = json.loads(line)[field]
        out.append(line)
    return out


def check_encoder(binary, folder, texts_path):
    from sentence_transformers import SentenceTransformer

    texts = read_lines(texts_path, None)
    reference = SentenceTransformer(folder, device="cpu").encode(texts, batch_size=32)
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "vectors.npy"
        subprocess.run(
            [binary, "embed", "--model", folder, "--input", texts_path, "--output", str(out)],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        ours = np.load(out)
    if ours.shape != reference.shape:
        sys.exit(f"shapes differ: biolore {ours.shape}, sentence-transformers {reference.shape}")
    a = ours / np.linalg.norm(ours, axis=1, keepdims=True)
    b = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    cos = (a * b).sum(axis=1)
    return {
        "folder": folder,
        "texts": len(texts),
        "min_cosine": float(cos.min()),
        "mean_cosine": float(cos.mean()),
    }


def check_decoder(binary, folder, prompts_path, n, max_tokens):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    prompts = list(dict.fromkeys(read_lines(prompts_path, "prompt")))[:n]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model, info = AutoModelForCausalLM.from_pretrained(
        folder, dtype=torch.float32, output_loading_info=True
    )
    model.eval()
    # A weight the folder lacks would be initialised at random, silently: refuse that.
    untied = [k for k in info.get("missing_keys", []) if k != "lm_head.weight"]
    if untied or info.get("unexpected_keys") or info.get("mismatched_keys"):
        sys.exit(f"{folder}: transformers did not load every weight: {info}")
    equal, differing = 0, []
    for prompt in prompts:
        ids = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )
        with torch.no_grad():
            generated = model.generate(
                **ids, max_new_tokens=max_tokens, do_sample=False, num_beams=1
            )
        theirs = tokenizer.decode(
            generated[0, ids["input_ids"].shape[1]:], skip_special_tokens=True
        ).strip()
        result = subprocess.run(
            [binary, "generate", "--model", folder, "--json", "--max-tokens", str(max_tokens), prompt],
            check=True,
            capture_output=True,
            text=True,
        )
        ours = json.loads(result.stdout)["text"].strip()
        if ours == theirs:
            equal += 1
        else:
            differing.append({"prompt": prompt[-80:], "biolore": ours, "transformers": theirs})
    return {
        "folder": folder,
        "prompts": len(prompts),
        "equal_answers": equal,
        "missing_keys": sorted(info.get("missing_keys", [])),
        "differing": differing[:5],
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--bin", default=str(root / "target/release/biolore"))
    p.add_argument("--encoder")
    p.add_argument("--texts")
    p.add_argument("--decoder")
    p.add_argument("--prompts")
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--max-tokens", type=int, default=24)
    args = p.parse_args()
    report = {}
    if args.encoder:
        if not args.texts:
            p.error("--encoder needs --texts")
        report["encoder"] = check_encoder(args.bin, args.encoder, args.texts)
    if args.decoder:
        if not args.prompts:
            p.error("--decoder needs --prompts")
        report["decoder"] = check_decoder(args.bin, args.decoder, args.prompts, args.n, args.max_tokens)
    if not report:
        p.error("give --encoder and/or --decoder")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes fixtures/torch/pytorch_model.bin: a small legacy PyTorch checkpoint (torch.save's zip
format) holding the cases real `pytorch_model.bin` files have, and fixtures/torch/expected.json
with every tensor's dtype, shape and values as biolore should read them.

Cases: float32, float16 and bfloat16 weights; an int64 buffer (`position_ids`); two names
sharing one storage (tied embeddings); a tensor that starts inside a larger storage (a slice);
a transposed (non-contiguous) view. Needs torch (the environment compare_ort.py describes).
"""
import json
import pathlib

import torch

out = pathlib.Path(__file__).resolve().parent.parent / "fixtures/torch"
out.mkdir(parents=True, exist_ok=True)
g = torch.Generator().manual_seed(0)
base = torch.randn(6, 4, generator=g)
embeddings = torch.randn(5, 3, generator=g)
state = {
    "encoder.layer.0.weight": torch.randn(3, 4, generator=g),
    "encoder.layer.0.bias": torch.randn(3, generator=g).half(),
    "encoder.layer.1.weight": torch.randn(2, 3, generator=g).bfloat16(),
    "embeddings.position_ids": torch.arange(7).unsqueeze(0),
    "embeddings.word_embeddings.weight": embeddings,
    "lm_head.weight": embeddings,  # tied: the same storage under two names
    "pooler.slice": base[2:],  # starts 8 values into its storage
    "pooler.transposed": base.t(),  # strides (1, 4)
}
torch.save(state, out / "pytorch_model.bin")
expected = {
    name: {
        "dtype": str(t.dtype).removeprefix("torch."),
        "shape": list(t.shape),
        "values": t.float().flatten().tolist() if t.is_floating_point() else t.flatten().tolist(),
    }
    for name, t in state.items()
}
(out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
print(f"{len(state)} tensors → {out}")

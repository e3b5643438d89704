#!/usr/bin/env python3
"""Export a sentence-transformers model folder to ONNX where ../shared/tools/compare_ort.py looks
for it ($ORT_CACHE or ~/.cache/biolore-ort, then the folder's name, then model.onnx).

compare_ort.py exports by itself with the inputs passed by position, which the transformers
releases on PyPI today refuse (`BertModel.forward() got multiple values for argument
'use_cache'`); this wrapper passes them by keyword and is otherwise the same export call
(opset 17, the TorchScript exporter, batch and sequence axes dynamic).

  .venv-ref/bin/python scripts/export-onnx.py models/all-MiniLM-L6-v2 [models/all-mpnet-base-v2 ...]
"""
import os
import sys

import torch
from transformers import AutoModel


class ByKeyword(torch.nn.Module):
    """The model's token states, with its inputs passed by keyword."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cache = os.environ.get("ORT_CACHE", os.path.expanduser("~/.cache/biolore-ort"))
    for folder in sys.argv[1:]:
        out_dir = os.path.join(cache, os.path.basename(os.path.abspath(folder)))
        out = os.path.join(out_dir, "model.onnx")
        if os.path.exists(out):
            print(f"{out}: already there")
            continue
        os.makedirs(out_dir, exist_ok=True)
        model = ByKeyword(AutoModel.from_pretrained(folder).eval())
        ids = torch.ones(2, 8, dtype=torch.long)
        torch.onnx.export(
            model,
            (ids, ids),
            out,
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            opset_version=17,
            dynamo=False,
            dynamic_axes={
                "input_ids": {0: "b", 1: "s"},
                "attention_mask": {0: "b", 1: "s"},
                "last_hidden_state": {0: "b", 1: "s"},
            },
        )
        print(f"{out}: exported")


if __name__ == "__main__":
    main()

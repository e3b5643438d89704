#!/usr/bin/env python3
"""Checks a running `biolore serve` with the Python clients users have.

usage: python scripts/client-check.py URL [API_KEY]
needs: pip install huggingface_hub openai numpy

Embeds through huggingface_hub's InferenceClient (TEI's root route and /embed's shape) and the
OpenAI client (floats and base64), checks both agree, and that a wrong key is refused when the
server has one. Prints one line per check; exits 1 on the first failure.
"""
import sys

import numpy as np
from huggingface_hub import InferenceClient
import openai


def main() -> int:
    url = sys.argv[1].rstrip("/")
    key = sys.argv[2] if len(sys.argv) > 2 else None
    hf = InferenceClient(base_url=url, api_key=key)
    one = np.asarray(hf.feature_extraction("heart attack"), dtype=np.float32)
    assert one.ndim == 2 and one.shape[0] == 1, one.shape
    print(f"huggingface_hub feature_extraction: shape {one.shape}")
    client = openai.OpenAI(base_url=url + "/v1", api_key=key or "none")
    floats = client.embeddings.create(input=["heart attack"], model="m", encoding_format="float")
    v = np.asarray(floats.data[0].embedding, dtype=np.float32)
    b64 = client.embeddings.create(input=["heart attack"], model="m")  # the client asks base64
    w = np.asarray(b64.data[0].embedding, dtype=np.float32)
    cos = float(one[0] @ v / (np.linalg.norm(one[0]) * np.linalg.norm(v)))
    assert cos > 0.99999 and np.allclose(v, w), (cos, np.abs(v - w).max())
    print(f"openai embeddings (float, base64): dimension {v.size}, cosine to TEI's {cos:.7f}")
    if key:
        wrong = openai.OpenAI(base_url=url + "/v1", api_key=key + "-wrong", max_retries=0)
        try:
            wrong.embeddings.create(input=["x"], model="m")
        except openai.AuthenticationError as e:
            print(f"a wrong key: {e.status_code}")
        else:
            raise AssertionError("a wrong key was accepted")
    return 0


if __name__ == "__main__":
    sys.exit(main())

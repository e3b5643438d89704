"""`biolore serve` with the Python clients users have: huggingface_hub's InferenceClient (TEI's
root route) and the OpenAI client (floats, base64, a wrong key → 401)."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

import biolore
from conftest import BIN, MINILM, MODELS, ROOT

KEY = "test-key"


@pytest.fixture(scope="module")
def server():
    env = dict(os.environ, BIOLORE_MODELS=str(MODELS))
    env.pop("BIOLORE_API_KEY", None)
    proc = subprocess.Popen(
        [str(BIN), "serve", "--model", "all-MiniLM-L6-v2", "--port", "0", "--api-key", KEY],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "http://" in line, line
    url = "http://" + line.split("http://")[1].split()[0]
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_huggingface_hub_and_openai_clients(server: str) -> None:
    # scripts/test-python.sh installs both clients: a missing one fails, never skips.
    import huggingface_hub as hf_hub
    import openai
    hf = hf_hub.InferenceClient(base_url=server, api_key=KEY)
    one = np.asarray(hf.feature_extraction("heart attack"), dtype=np.float32)
    assert one.shape == (1, 384)
    client = openai.OpenAI(base_url=server + "/v1", api_key=KEY)
    floats = client.embeddings.create(input=["heart attack"], model="m", encoding_format="float")
    v = np.asarray(floats.data[0].embedding, dtype=np.float32)
    b64 = client.embeddings.create(input=["heart attack"], model="m")  # the client asks base64
    w = np.asarray(b64.data[0].embedding, dtype=np.float32)
    assert np.allclose(v, w, atol=1e-7) and np.allclose(one[0], v, atol=1e-6)
    local = biolore.Encoder(str(MINILM)).embed(["heart attack"])[0]
    assert np.abs(local - v).max() < 1e-6
    wrong = openai.OpenAI(base_url=server + "/v1", api_key=KEY + "-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refused:
        wrong.embeddings.create(input=["x"], model="m")
    assert refused.value.status_code == 401

"""Shared fixtures of the Python tests: the repository's models, the `biolore` binary, and a small
disease index built from the committed NCBI-disease dictionary (see fixtures/README.md)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MODELS = ROOT / "models"
MINILM = MODELS / "all-MiniLM-L6-v2"
SMOLLM2 = MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf"
BIN = Path(os.environ.get("BIOLORE_BIN", ROOT / "target" / "release" / "biolore"))


def run(*args: str) -> str:
    """Runs the biolore binary; its stdout (the test fails with stderr otherwise)."""
    env = dict(os.environ, BIOLORE_MODELS=str(MODELS))
    done = subprocess.run([str(BIN), *args], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="session", autouse=True)
def models_dir() -> Path:
    # A missing model fails: run scripts/setup.sh (model tests never skip).
    assert (MINILM / "model.safetensors").is_file(), "run scripts/setup.sh"
    assert BIN.is_file(), f"build the binary first ({BIN})"
    os.environ["BIOLORE_MODELS"] = str(MODELS)
    return MODELS


@pytest.fixture(scope="session")
def disease_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(KB file, index folder) of the NCBI-disease dictionary, indexed with MiniLM."""
    tmp = tmp_path_factory.mktemp("index")
    kb, index = tmp / "medic.kb", tmp / "medic.idx"
    dictionary = ROOT / "fixtures" / "ncbi-disease" / "disease-dictionary.txt"
    run("kb", "import", "--format", "biosyn", str(dictionary), "--out", str(kb))
    run("index", "build", "--kb", str(kb), "--model", "all-MiniLM-L6-v2", "--out", str(index))
    return kb, index


@pytest.fixture(scope="session")
def ade_student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An adverse-event student trained on the committed synthetic ADE fixture (40 steps)."""
    out = tmp_path_factory.mktemp("student") / "student"
    run("train", "extractor", "--data", str(ROOT / "fixtures" / "ade-synthetic"), "--steps", "40",
        "--batch-size", "12", "--micro-batch", "6", "--lr", "1e-4", "--out", str(out))
    return out


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """The SmolLM2 GGUF decoder (scripts/setup.sh smollm2); missing, it fails."""
    assert SMOLLM2.is_file(), "run scripts/setup.sh smollm2"
    return SMOLLM2

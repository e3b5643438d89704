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

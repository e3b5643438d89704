#!/usr/bin/env bash
# Builds the Python package (an abi3 wheel for CPython ≥ 3.11) into target/wheels/.
# Needs a Rust toolchain and Python ≥ 3.11; maturin is installed into a build venv
# (target/pybuild) when it is not on PATH. The wheel then installs with plain `pip install`,
# without Rust: pip install target/wheels/biolore-*.whl
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
maturin="$(command -v maturin || true)"
if [ -z "$maturin" ]; then
  venv="$root/target/pybuild"
  [ -x "$venv/bin/maturin" ] || {
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "maturin>=1.9,<2"
  }
  maturin="$venv/bin/maturin"
fi
"$maturin" build --release --manifest-path crates/biolore-py/Cargo.toml \
  --interpreter "$python" --out "$root/target/wheels" "$@" >&2
ls -t "$root"/target/wheels/biolore-*.whl | head -1

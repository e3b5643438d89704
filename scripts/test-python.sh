#!/usr/bin/env bash
# The Python package's tests (crates/biolore-py/tests): builds the release binary and the wheel
# (scripts/build-wheel.sh), installs the wheel into a fresh venv (target/pytest-venv) with pytest,
# pyarrow, the openai and huggingface_hub clients, pyspark 4 (+ pandas < 3) and ray[data] from
# PyPI, and runs them: the package against the CLI, the server with real clients, Spark in
# local[2] mode and Ray Data with ray.init(num_cpus=2). Needs Python ≥ 3.11 and, for Spark, a
# Java 17+ runtime. Not part of scripts/test.sh (see README › Python).
#
#   scripts/test-python.sh [--no-engines] [pytest arguments]
#     --no-engines   skip installing pyspark and ray (their tests are then skipped)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
engines=1
if [ "${1:-}" = "--no-engines" ]; then
  engines=0
  shift
fi
python="${PYTHON:-python3}"
"$root/scripts/setup.sh" all-MiniLM-L6-v2 smollm2 openblas >&2
cargo build --release --quiet --bin biolore
wheel="$("$root/scripts/build-wheel.sh")"
venv="$root/target/pytest-venv"
rm -rf "$venv"
"$python" -m venv "$venv"
pip=("$venv/bin/pip" install --quiet --disable-pip-version-check)
"${pip[@]}" "$wheel" pytest pyarrow openai huggingface_hub
if [ "$engines" = 1 ]; then
  java -version >/dev/null 2>&1 || { echo "Spark needs a Java 17+ runtime (java not found)" >&2; exit 1; }
  "${pip[@]}" "pyspark>=4,<5" "pandas<3" "ray[data]>=2.9"
  export BIOLORE_ENGINE_TESTS=1
fi
# From outside the source tree, so `import biolore` is the installed wheel.
cd "$root/crates/biolore-py/tests"
"$venv/bin/python" -m pytest -q -p no:cacheprovider . "$@"

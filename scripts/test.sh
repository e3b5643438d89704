#!/usr/bin/env bash
# The whole test suite: fetch the test models if missing, then run every test in one
# release build (the model tests need optimised code). A model that can't be fetched
# fails the run; model tests never skip.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
"$root/scripts/setup.sh"
if [ ! -d "$root/../shared" ]; then
  echo "[test] ../shared (evaluation data and reference fixtures) is missing beside the checkout" >&2
  exit 1
fi
cargo test --release --workspace "$@"

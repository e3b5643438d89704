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
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
cargo test --release --workspace "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line with the totals over every test binary (doc-tests print "0 passed" last).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"

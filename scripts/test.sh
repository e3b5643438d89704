#!/usr/bin/env bash
# The test suite, on a fresh clone: nothing beside the checkout is needed (test inputs are
# committed under fixtures/; models and terminologies come from scripts/setup.sh).
#
#   scripts/test.sh          every test in one release build; fetches the models first. A model
#                            that can't be fetched fails the run: model tests never skip.
#   scripts/test.sh --fast   the tests that need no model download (unit tests of every crate,
#                            document and KB reader tests, property tests over every reader and
#                            request body): no setup; the same release build as the full suite,
#                            so after one build it takes a minute or two.
#
# Extra arguments go to `cargo test`. Benchmarks and full evaluations that read the evaluation
# data folder (beside the checkout, or a path given) are not part of either (see README › Benchmarks and Evaluation).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
fast=0
if [ "${1:-}" = "--fast" ]; then
  fast=1
  shift
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
if [ "$fast" = 1 ]; then
  # Library unit tests of every crate, then the integration tests that read only fixtures.
  cargo test --release --workspace --lib "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  if [ "$status" = 0 ]; then
    cargo test --release -p biolore-text -p biolore-kb --tests "$@" 2>&1 | tee -a "$log"
    status=${PIPESTATUS[0]}
  fi
  if [ "$status" = 0 ]; then
    cargo test --release -p biolore-serve --test request_bodies "$@" 2>&1 | tee -a "$log"
    status=${PIPESTATUS[0]}
  fi
else
  set -e
  "$root/scripts/setup.sh"
  set +e
  cargo test --release --workspace "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
fi
set -e
# One closing line with the totals over every test binary (doc-tests print "0 passed" last).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"

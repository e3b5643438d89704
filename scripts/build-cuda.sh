#!/usr/bin/env bash
# Builds biolore with the CUDA backend into target/cuda/ (no GPU needed to build). Uses the
# system's CUDA toolkit when nvcc is on PATH, else the PyPI one (scripts/cuda-toolkit.sh).
#   scripts/build-cuda.sh [extra cargo arguments]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if ! command -v nvcc >/dev/null; then
  scripts/cuda-toolkit.sh
  # shellcheck disable=SC1091
  source "${BIOLORE_CUDA:-$root/.cuda}/env.sh"
fi
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
CARGO_TARGET_DIR="$root/target/cuda" cargo build --release -p biolore-cli --features cuda "$@"
echo "built $root/target/cuda/release/biolore (CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP)"

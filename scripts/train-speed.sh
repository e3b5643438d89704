#!/usr/bin/env bash
# Training throughput of one or more biolore binaries, side by side on this machine.
#
#   scripts/train-speed.sh WORKDIR BIN [BIN…]
#
# For each binary, one after the other: 20 steps of all-mpnet-base-v2 phase-1 training on CTD
# 2017 (configs/contrastive-cpu.toml), then, when GEN_INDEX names a MEDIC index (e.g. the small
# ANGEL recipe's WORK/index-base), 8 steps of the SmolLM2 generator with the small recipe's
# settings. Prints each run's summary line (steps, seconds, pairs/s or examples/s, final loss);
# the per-step losses are in WORKDIR/<run>/training_log.jsonl. Needs ../shared (CTD 2017,
# NCBI-disease) and the models of scripts/setup.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:?usage: train-speed.sh WORKDIR BIN [BIN…]}"; shift
[ $# -gt 0 ] || { echo "usage: train-speed.sh WORKDIR BIN [BIN…]" >&2; exit 2; }
ctd="${CTD:-$root/../shared/data/medic/CTD_diseases_2017-06.tsv.gz}"
ncbi="${NCBI:-$root/../shared/data/ncbi-disease}"
export BIOLORE_MODELS="${BIOLORE_MODELS:-$root/models}"
mkdir -p "$work"
first="$1"
[ -f "$work/ctd2017.kb" ] || "$first" kb import --format ctd "$ctd" -o "$work/ctd2017.kb" >&2
n=0
for bin in "$@"; do
  n=$((n + 1))
  rm -rf "$work/contrastive-$n"
  echo "$bin contrastive: $("$bin" train contrastive --kb "$work/ctd2017.kb" --model all-mpnet-base-v2 \
    --out "$work/contrastive-$n" --config "$root/configs/contrastive-cpu.toml" --steps 20 \
    --checkpoint-every 100 2>&1 | tail -1)"
  if [ -n "${GEN_INDEX:-}" ]; then
    rm -rf "$work/generator-$n"
    echo "$bin generator: $("$bin" train link-generative --index "$GEN_INDEX" \
      --corpus "$ncbi/NCBItrainset_corpus.txt" --model SmolLM2-135M-Instruct.Q4_1.gguf --synonyms 1 \
      --context-chars 64 --kb-examples 0 --freeze-layers 20 --steps 8 --checkpoint-every 100 \
      --out "$work/generator-$n" 2>&1 | tail -1)"
  fi
done

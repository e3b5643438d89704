#!/usr/bin/env bash
# Trained entity linkers on NCBI-disease, small enough for a 2-core CPU:
#   1. MEDIC (the 2012 dictionary NCBI-disease uses) is imported and indexed with the base
#      sentence encoder;
#   2. dense fine-tuning (`train link-dense`): every distinct training mention with the gold
#      concept's closest name and a hard negative mined from that index; the fine-tuned model
#      indexes MEDIC again;
#   3. the generator (`train link-generative`, SmolLM2-135M-Instruct dequantized to float32)
#      learns to write up to SYNONYMS names of each training mention's gold concept, reading the
#      mention marked START … END in CONTEXT_CHARS characters of its abstract either side;
#   4. negative-aware training (`train link-dpo`, ANGEL): the generator's own top 5 for a sample
#      of DPO_MENTIONS training mentions become (correct, wrong) pairs, trained with DPO
#      (beta 0.1) against the positive-only generator; dev acc@1 on DPO_DEV_DOCS abstracts
#      decides whether the DPO model or the positive-only one is kept;
#   5. dev: dense base, dense fine-tuned, generative (beam search constrained by the trie of
#      MEDIC's names, with the generator step 4 kept) and hybrid (that generator re-scores the
#      fine-tuned dense top 10) are scored with `eval link --json`.
# Every step resumes: a finished index or training run is recognised and skipped.
#
# usage: scripts/angel-small.sh WORKDIR [--test FILE]
#   --test FILE   also evaluate the four linkers on FILE (PubTator), printing one line per
#                 linker: `dense-base: {…}`, `dense-finetuned: {…}`, `generative: {…}`, `hybrid: {…}`
# Sizes (environment), chosen to finish within an hour on a 2-core CPU: DENSE_BASE
#   (all-MiniLM-L6-v2), DENSE_EPOCHS (4), DENSE_LR (3e-5), GENERATOR
#   (SmolLM2-135M-Instruct.Q4_1.gguf), GEN_EPOCHS (1), GEN_FREEZE (20 of 30 layers kept),
#   SYNONYMS (1), CONTEXT_CHARS (64), KB_EXAMPLES (0), DPO_MENTIONS (300; 0 for all), DPO_CHUNKS (1), DPO_DEV_DOCS
#   (20), BEAMS (5), DEV_DOCS (30 of the 100 dev abstracts for the generative and hybrid
#   linkers; "all" for every one), DEVICE (cpu).
# The full recipe is the same script at full size on a bigger machine, e.g.
#   DENSE_BASE=all-mpnet-base-v2 DENSE_EPOCHS=20 SYNONYMS=3 GEN_EPOCHS=5 GEN_FREEZE=0 \
#   KB_EXAMPLES=200000 DPO_MENTIONS=0 DPO_CHUNKS=4 DPO_DEV_DOCS=all DEV_DOCS=all DEVICE=cuda \
#   scripts/angel-small.sh WORKDIR
# Needs ../shared/data/{medic,ncbi-disease} beside the checkout (or MEDIC=file NCBI=folder).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:?usage: scripts/angel-small.sh WORKDIR [--test FILE]}"
shift
test_file=""
while [ $# -gt 0 ]; do
  case "$1" in
    --test) test_file="${2:?--test needs a file}"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
medic="${MEDIC:-$root/../shared/data/medic/medic_06Jul2012.txt}"
ncbi="${NCBI:-$root/../shared/data/ncbi-disease}"
base="${DENSE_BASE:-all-MiniLM-L6-v2}"
dense_epochs="${DENSE_EPOCHS:-4}"
dense_lr="${DENSE_LR:-3e-5}"
generator="${GENERATOR:-SmolLM2-135M-Instruct.Q4_1.gguf}"
gen_epochs="${GEN_EPOCHS:-1}"
gen_freeze="${GEN_FREEZE:-20}"
synonyms="${SYNONYMS:-1}"
context_chars="${CONTEXT_CHARS:-64}"
dpo_mentions="${DPO_MENTIONS:-300}"
dpo_chunks="${DPO_CHUNKS:-1}"
dpo_dev_docs="${DPO_DEV_DOCS:-20}"
kb_examples="${KB_EXAMPLES:-0}"
beams="${BEAMS:-5}"
dev_docs="${DEV_DOCS:-30}"
device="${DEVICE:-cpu}"
bin="${BIOLORE_BIN:-$root/target/release/biolore}"
[ -f "$medic" ] || { echo "no MEDIC dictionary at $medic (set MEDIC)" >&2; exit 1; }
[ -f "$ncbi/NCBItrainset_corpus.txt" ] || { echo "no NCBI-disease corpus in $ncbi (set NCBI)" >&2; exit 1; }
"$root/scripts/setup.sh" all-MiniLM-L6-v2 smollm2 openblas >&2
[ -x "$bin" ] || (cd "$root" && cargo build --release --quiet --bin biolore)
export BIOLORE_MODELS="${BIOLORE_MODELS:-$root/models}"
mkdir -p "$work"
started=$(date +%s)
train="$ncbi/NCBItrainset_corpus.txt"
dev="$ncbi/NCBIdevelopset_corpus.txt"

# The first N documents of a PubTator file (blank-line separated).
first_docs() { # file n out
  if [ "$2" = all ]; then cp "$1" "$3"; else
    awk -v n="$2" 'BEGIN { RS = ""; ORS = "\n\n" } NR <= n { print }' "$1" > "$3"; fi
}
build_index() { # model out
  [ -f "$2/manifest.json" ] || "$bin" index build --kb "$work/medic2012.kb" --model "$1" --out "$2" --device "$device" >&2
}

# 1. MEDIC and the base index.
[ -f "$work/medic2012.kb" ] || "$bin" kb import --format biosyn "$medic" --out "$work/medic2012.kb" >&2
build_index "$base" "$work/index-base"
# 2. Dense fine-tuning on the training mentions, and its index.
"$bin" train link-dense --index "$work/index-base" --corpus "$train" --epochs "$dense_epochs" --lr "$dense_lr" \
  --device "$device" --out "$work/dense" >&2
build_index "$work/dense" "$work/index-dense"
# 3. The generator.
"$bin" train link-generative --index "$work/index-base" --corpus "$train" --model "$generator" \
  --synonyms "$synonyms" --context-chars "$context_chars" --kb-examples "$kb_examples" --epochs "$gen_epochs" --freeze-layers "$gen_freeze" \
  --device "$device" --out "$work/generator" >&2
# 4. Negative-aware training: DPO on the generator's own mistakes, selected on dev.
if [ "$dpo_dev_docs" = all ]; then dpo_dev=0; else dpo_dev="$dpo_dev_docs"; fi
"$bin" train link-dpo --index "$work/index-base" --corpus "$train" --generator "$work/generator" \
  --mentions "$dpo_mentions" --chunks "$dpo_chunks" --top "$beams" --dev "$dev" --dev-docs "$dpo_dev" \
  --freeze-layers "$gen_freeze" --device "$device" --out "$work/generator-dpo" >&2

evaluate() { # corpus prefix → one line per linker
  local corpus="$1" prefix="$2"
  echo "${prefix}dense-base: $("$bin" eval link --index "$work/index-base" --corpus "$corpus" --json --errors "$work/errors-${prefix}dense-base.jsonl" --device "$device")"
  echo "${prefix}dense-finetuned: $("$bin" eval link --index "$work/index-dense" --corpus "$corpus" --json --errors "$work/errors-${prefix}dense-finetuned.jsonl" --device "$device")"
  echo "${prefix}generative: $("$bin" eval link --index "$work/index-base" --corpus "$corpus" --json --linker generative --generator "$work/generator-dpo" --beams "$beams" --errors "$work/errors-${prefix}generative.jsonl" --device "$device")"
  echo "${prefix}hybrid: $("$bin" eval link --index "$work/index-dense" --corpus "$corpus" --json --linker hybrid --generator "$work/generator-dpo" --beams "$beams" --errors "$work/errors-${prefix}hybrid.jsonl" --device "$device")"
}

# 5. Dev (the dense linkers on all of dev as well; generator-dpo/dpo-report.json holds the
#    positive-only and DPO generators' acc@1 on the first DPO_DEV_DOCS dev abstracts).
first_docs "$dev" "$dev_docs" "$work/dev-sample.txt"
{
  evaluate "$work/dev-sample.txt" "dev-sample-"
  if [ "$dev_docs" != all ]; then
    echo "dev-dense-base: $("$bin" eval link --index "$work/index-base" --corpus "$dev" --json --errors "$work/errors-dev-dense-base.jsonl" --device "$device")"
    echo "dev-dense-finetuned: $("$bin" eval link --index "$work/index-dense" --corpus "$dev" --json --errors "$work/errors-dev-dense-finetuned.jsonl" --device "$device")"
  fi
} > "$work/results.txt"
cat "$work/results.txt" >&2
echo "small recipe: $(( $(date +%s) - started )) s" >&2
echo "dense fine-tuned: $work/dense"
echo "generator: $work/generator-dpo (DPO report: $work/generator-dpo/dpo-report.json; positive-only: $work/generator)"
echo "index: $work/index-dense"
echo "base index: $work/index-base"

if [ -n "$test_file" ]; then
  evaluate "$test_file" ""
fi

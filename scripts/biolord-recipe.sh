#!/usr/bin/env bash
# The BioLORD recipe end to end on the CTD disease vocabulary, then its evaluation:
#   phase 1 (contrastive) → phase 2 (self-distillation) → phase 3 (average of base, p1, p2),
#   each model scored on NCBI-disease dev (MEDIC 2012 index, as in the linking results) and on
#   EHR-Rel-A. Every step resumes or is skipped when its output is already complete.
#
# usage: scripts/biolord-recipe.sh MODEL WORKDIR [P1_CONFIG] [P2_STEPS]
#   MODEL      a model folder or a name under ./models (all-mpnet-base-v2, all-MiniLM-L6-v2)
#   WORKDIR    where models, indexes and results go
# Needs ../shared (CTD, MEDIC, NCBI-disease, EHR-Rel) beside the checkout.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="$1"
work="$2"
p1_config="${3:-$root/configs/contrastive-cpu.toml}"
p2_steps="${4:-40}"
shared="$root/../shared"
bin="${BIOLORE_BIN:-$root/target/release/biolore}"
[ -x "$bin" ] || (cd "$root" && cargo build --release)
mkdir -p "$work"
base_dir="$model"
[ -d "$base_dir" ] || base_dir="$root/models/$model"

[ -f "$work/ctd2017.kb" ] || "$bin" kb import --format ctd "$shared/data/medic/CTD_diseases_2017-06.tsv.gz" -o "$work/ctd2017.kb"
[ -f "$work/medic2012.kb" ] || "$bin" kb import --format biosyn "$shared/data/medic/medic_06Jul2012.txt" -o "$work/medic2012.kb"

"$bin" train contrastive --kb "$work/ctd2017.kb" --model "$base_dir" --out "$work/p1" --config "$p1_config"
"$bin" train distill --kb "$work/ctd2017.kb" --teacher "$work/p1" --base "$base_dir" --out "$work/p2" \
  --config "$p1_config" --steps "$p2_steps" --sentences "$shared/data/ncbi-disease/NCBItrainset_corpus.txt"
"$bin" average --out "$work/avg" "$base_dir" "$work/p1" "$work/p2"

results="$work/results.jsonl"
: > "$results"
for name in base p1 p2 avg; do
  dir="$work/$name"
  [ "$name" = base ] && dir="$base_dir"
  index="$work/index-$name"
  "$bin" index build --kb "$work/medic2012.kb" --model "$dir" --out "$index"
  link=$("$bin" eval link --index "$index" --corpus "$shared/data/ncbi-disease/NCBIdevelopset_corpus.txt" --json --errors "$work/errors-$name.jsonl")
  rel=$("$bin" eval relatedness --model "$dir" --data "$shared/data/ehr-rel/EHR-RelA.tsv" --json)
  python3 - "$name" "$link" "$rel" >> "$results" <<'PY'
import json, sys
name, link, rel = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(json.dumps({"model": name, "acc1": link["acc1"], "acc5": link["acc5"], "n": link["n"],
                  "ehr_rel_a_spearman": rel["spearman"]}))
PY
  tail -n 1 "$results"
done

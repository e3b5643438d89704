#!/usr/bin/env bash
# The GPU checks, for a machine with an NVIDIA GPU (none is needed to build; see README, GPU):
#   1. the CUDA build (scripts/build-cuda.sh, unless BIOLORE_CUDA_BIN names a built binary);
#   2. parity: the committed reference embeddings of both models, embedded with --device cuda
#      (minimum cosine ≥ 0.9999, and against the CPU's vectors);
#   3. speed: `biolore embed` of the committed disease dictionary's names on cuda and on cpu
#      (names/s of each), and `bench --device cuda` when the evaluation data is beside the checkout;
#   4. training: 5 contrastive steps of MiniLM on the committed Disease Ontology excerpt with
#      --device cuda and on the CPU; the first step's loss must agree to 1e-3.
# Prints one JSON line per check and `gpu-check: ok` at the end; exits non-zero on a failure.
#
#   scripts/gpu-check.sh [OUT_DIR]      (default target/gpu-check)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="${1:-target/gpu-check}"
mkdir -p "$out"
log() { printf '[gpu-check] %s\n' "$*" >&2; }

bin="${BIOLORE_CUDA_BIN:-target/cuda/release/biolore}"
if [ ! -x "$bin" ]; then scripts/build-cuda.sh; fi
# shellcheck disable=SC1091
[ -f .cuda/env.sh ] && source .cuda/env.sh
command -v nvidia-smi >/dev/null && nvidia-smi -L | sed 's/^/[gpu-check] /' >&2
scripts/setup.sh all-MiniLM-L6-v2 all-mpnet-base-v2 openblas

# 2. Parity on the committed reference embeddings.
python3 - "$bin" "$out" <<'PY'
import json, math, subprocess, sys
bin_, out = sys.argv[1], sys.argv[2]
ref = json.load(open("fixtures/reference/reference_embeddings.json"))["models"]
def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))
for model, entry in ref.items():
    texts = [t["text"] for t in entry["items"]]
    path = f"{out}/{model}-texts.jsonl"
    with open(path, "w") as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
    got = {}
    for device in ["cuda", "cpu"]:
        run = subprocess.run([bin_, "embed", "--model", model, "--device", device, "--jsonl", "--input", path],
                             check=True, capture_output=True, text=True)
        got[device] = [json.loads(l)["embedding"] for l in run.stdout.splitlines() if l.strip()]
    vs_ref = min(cos(g, t["embedding"]) for g, t in zip(got["cuda"], entry["items"]))
    vs_cpu = min(cos(g, c) for g, c in zip(got["cuda"], got["cpu"]))
    print(json.dumps({"check": "parity", "model": model, "texts": len(texts),
                      "min_cosine_vs_reference": vs_ref, "min_cosine_vs_cpu": vs_cpu}))
    if vs_ref < 0.9999 or vs_cpu < 0.9999:
        sys.exit(f"parity failed for {model}")
PY

# 3. Speed: the dictionary's names on cuda and cpu, whole process minus a 1-text run.
cut -d'|' -f3 fixtures/ncbi-disease/disease-dictionary.txt | grep -v '^$' | head -n 2000 > "$out/names.txt"
for model in all-MiniLM-L6-v2 all-mpnet-base-v2; do
  for device in cuda cpu; do
    start=$(date +%s.%N); "$bin" embed --model "$model" --device "$device" heart >/dev/null
    warm=$(echo "$(date +%s.%N) - $start" | bc)
    start=$(date +%s.%N); "$bin" embed --model "$model" --device "$device" --input "$out/names.txt" -o "$out/v.npy"
    seconds=$(echo "$(date +%s.%N) - $start - $warm" | bc)
    n=$(wc -l < "$out/names.txt")
    printf '{"check": "speed", "model": "%s", "device": "%s", "names": %s, "seconds": %s, "names_per_s": %s}\n' \
      "$model" "$device" "$n" "$seconds" "$(echo "scale=1; $n / $seconds" | bc)"
  done
done
data="${BIOLORE_DATA_DIR:-$root/../shared/data}"
if [ -d "$data/medic" ]; then
  "$bin" bench --model all-mpnet-base-v2 --device cuda --data "$data" --json
fi

# 4. Training steps on cuda and cpu; the first step's loss must agree.
"$bin" kb import --format obo fixtures/doid/doid-excerpt.obo -o "$out/doid.kb" 2>/dev/null
for device in cuda cpu; do
  rm -rf "$out/train-$device"
  "$bin" train contrastive --kb "$out/doid.kb" --model all-MiniLM-L6-v2 --out "$out/train-$device" \
    --steps 5 --batch-size 16 --micro-batch 16 --max-length 32 --seed 7 --device "$device"
done
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
logs = {d: [json.loads(l) for l in open(f"{out}/train-{d}/training_log.jsonl")] for d in ["cuda", "cpu"]}
first = {d: logs[d][0]["loss"] for d in logs}
print(json.dumps({"check": "training", "steps": len(logs["cuda"]), "first_loss": first,
                  "last_loss": {d: logs[d][-1]["loss"] for d in logs}}))
if abs(first["cuda"] - first["cpu"]) > 1e-3:
    sys.exit("training: the first step's loss differs between cuda and cpu")
PY
echo "gpu-check: ok"

#!/usr/bin/env bash
# The GPU checks, for a machine with an NVIDIA GPU (none is needed to build; see README, GPU):
#   1. the CUDA build (scripts/build-cuda.sh, unless BIOLORE_CUDA_BIN names a built binary);
#   2. parity: the committed reference embeddings of both models, embedded with --device cuda
#      (minimum cosine ≥ 0.9999, and against the CPU's vectors);
#   3. speed: `biolore embed` of the committed disease dictionary's names (cycled to
#      GPU_CHECK_NAMES, default 20000) on cuda and on cpu (names/s of each), and
#      `bench --device cuda` when the evaluation data is beside the checkout;
#   4. training: 5 contrastive steps of MiniLM on the committed Disease Ontology excerpt with
#      --device cuda and on the CPU; the first step's loss must agree to 1e-3 (and pairs/s of each).
# Prints one JSON line per check and `gpu-check: ok` at the end; exits non-zero on a failure.
# GPU_CHECK_MODELS (default "all-MiniLM-L6-v2 all-mpnet-base-v2") names the models checked; one
# already in models/ is used as it is; GPU_CHECK_OFFLINE=1 fetches nothing (a machine without
# network: scripts/gpu-bundle.sh).
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
models="${GPU_CHECK_MODELS:-all-MiniLM-L6-v2 all-mpnet-base-v2}"
if [ -z "${GPU_CHECK_OFFLINE:-}" ]; then
  for model in $models; do
    [ -f "models/$model/config.json" ] || scripts/setup.sh "$model"
  done
  [ -f models/.lib/libscipy_openblas.so ] || scripts/setup.sh openblas
fi

# 2. Parity on the committed reference embeddings.
python3 - "$bin" "$out" $models <<'PY'
import json, math, subprocess, sys
bin_, out, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
ref = {m: e for m, e in json.load(open("fixtures/reference/reference_embeddings.json"))["models"].items() if m in wanted}
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
python3 - "$out/names.txt" "${GPU_CHECK_NAMES:-20000}" <<'PY'
import itertools, sys
names = [n for line in open("fixtures/ncbi-disease/disease-dictionary.txt")
         for n in line.rstrip("\n").split("|")[2:] if n]
with open(sys.argv[1], "w") as f:
    f.writelines(n + "\n" for n in itertools.islice(itertools.cycle(names), int(sys.argv[2])))
PY
now() { python3 -c 'import time; print(time.time())'; }
for model in $models; do
  for device in cuda cpu; do
    start=$(now); "$bin" embed --model "$model" --device "$device" heart >/dev/null
    warm=$(python3 -c "print($(now) - $start)")
    start=$(now); "$bin" embed --model "$model" --device "$device" --input "$out/names.txt" -o "$out/v.npy"
    python3 - "$model" "$device" "$out/names.txt" "$start" "$warm" <<'PY'
import json, sys, time
model, device, path, start, warm = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
seconds = time.time() - start - warm
n = sum(1 for _ in open(path))
print(json.dumps({"check": "speed", "model": model, "device": device, "names": n,
                  "seconds": round(seconds, 3), "startup_seconds": round(warm, 3), "names_per_s": round(n / seconds, 1)}))
PY
  done
done
data="${BIOLORE_DATA_DIR:-$root/../shared/data}"
if [ -d "$data/medic" ]; then
  for model in $models; do "$bin" bench --model "$model" --device cuda --data "$data" --json; done
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
rate = {d: sum(l["items_per_s"] for l in logs[d][1:]) / max(1, len(logs[d]) - 1) for d in logs}
print(json.dumps({"check": "training", "steps": len(logs["cuda"]), "first_loss": first,
                  "last_loss": {d: logs[d][-1]["loss"] for d in logs},
                  "pairs_per_s_after_step_1": rate}))
if abs(first["cuda"] - first["cpu"]) > 1e-3:
    sys.exit("training: the first step's loss differs between cuda and cpu")
PY
echo "gpu-check: ok"

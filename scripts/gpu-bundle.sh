#!/usr/bin/env bash
# For a GPU machine that can reach no network and takes only a small folder beside the checkout:
# packs the CUDA build and all-MiniLM-L6-v2 (weights stored as f16, which biolore widens to f32
# at load) into DIR, xz-compressed (~55 MB), and runs scripts/gpu-check.sh from such a folder
# with the GPU machine's own CUDA libraries (cuBLAS, cuRAND and the runtime from its toolkit or
# its Python's nvidia wheels).
#
#   scripts/gpu-bundle.sh pack DIR        (here: needs target/cuda/release/biolore and the model)
#   scripts/gpu-bundle.sh run DIR OUT     (there: unpacks into models/ and /tmp, then gpu-check)
#
# The f16 weights round every weight to 11 significant bits: the parity check's cosine against
# the committed f32 references then measures that rounding too, and its cosine against the CPU
# (same f16 weights) measures the GPU alone.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# DIR and OUT are taken from where the script was started, before moving to the checkout.
args=()
for a in "$@"; do case "$a" in pack|run) args+=("$a") ;; *) args+=("$(realpath -m "$a")") ;; esac; done
set -- "${args[@]}"
cd "$root"
log() { printf '[gpu-bundle] %s\n' "$*" >&2; }
model=all-MiniLM-L6-v2
# xz, or Python's lzma where xz is not installed.
unxz_to() {
  if command -v xz >/dev/null; then xz -dc "$1" > "$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}

pack() {
  local dir="$1" bin="${BIOLORE_CUDA_BIN:-target/cuda/release/biolore}"
  [ -x "$bin" ] || { log "no CUDA build at $bin (scripts/build-cuda.sh)"; exit 1; }
  [ -f "models/$model/model.safetensors" ] || scripts/setup.sh "$model"
  rm -rf "$dir"; mkdir -p "$dir/$model"
  strip -o "$dir/biolore" "$bin"
  xz -T0 -6 "$dir/biolore"
  (cd "models/$model" && find . -type f ! -name 'model.safetensors*' ! -name README.md -print0 \
    | xargs -0 -I{} cp --parents {} "$dir/$model/")
  python3 - "models/$model/model.safetensors" "$dir/$model/model.safetensors" <<'PY'
import json, struct, sys
from array import array
src, dst = sys.argv[1], sys.argv[2]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header, data = json.loads(raw[8:8 + n]), raw[8 + n:]
out, chunks, offset = {}, [], 0
for name, t in header.items():
    if name == "__metadata__":
        out[name] = t
        continue
    start, end = t["data_offsets"]
    body, dtype = data[start:end], t["dtype"]
    if dtype == "F32":
        values = array("f"); values.frombytes(body)
        body = struct.pack(f"<{len(values)}e", *values); dtype = "F16"
    out[name] = {"dtype": dtype, "shape": t["shape"], "data_offsets": [offset, offset + len(body)]}
    chunks.append(body); offset += len(body)
head = json.dumps(out).encode()
head += b" " * (-len(head) % 8)
with open(dst, "wb") as f:
    f.write(struct.pack("<Q", len(head)) + head + b"".join(chunks))
PY
  xz -T0 -6 "$dir/$model/model.safetensors"
  log "packed $(du -sh "$dir" | cut -f1) into $dir"
}

run() {
  local dir="$1" out="$2" lib roots
  if [ -e "models/$model/model.safetensors" ]; then
    log "models/$model/model.safetensors exists: this is for a checkout without the model (its f16 copy would replace it)"
    exit 1
  fi
  mkdir -p "models/$model" "$out"
  cp -r "$dir/$model/." "models/$model/"
  unxz_to "models/$model/model.safetensors.xz" "models/$model/model.safetensors"
  rm "models/$model/model.safetensors.xz"
  unxz_to "$dir/biolore.xz" /tmp/biolore-cuda && chmod +x /tmp/biolore-cuda
  # The toolkit first, then Python's nvidia wheels (site-packages/nvidia/*/lib).
  roots=(/usr/local/cuda*/ /opt /usr/lib /usr/local/lib)
  if command -v python3 >/dev/null; then
    roots+=("$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null || echo /nonexistent)")
  fi
  for name in libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libcudart.so.13; do
    lib="$(find "${roots[@]}" -name "$name" 2>/dev/null | head -n1 || true)"
    [ -n "$lib" ] || { log "$name not found on this machine"; exit 1; }
    LD_LIBRARY_PATH="$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  done
  export LD_LIBRARY_PATH
  log "libraries: $LD_LIBRARY_PATH"
  BIOLORE_CUDA_BIN=/tmp/biolore-cuda GPU_CHECK_MODELS="$model" GPU_CHECK_OFFLINE=1 scripts/gpu-check.sh "$out"
}

case "${1:-}" in
  pack) [ $# -eq 2 ] || { log "usage: $0 pack DIR"; exit 2; }; pack "$2" ;;
  run) [ $# -eq 3 ] || { log "usage: $0 run DIR OUT"; exit 2; }; run "$2" "$3" ;;
  *) log "usage: $0 pack DIR | run DIR OUT"; exit 2 ;;
esac

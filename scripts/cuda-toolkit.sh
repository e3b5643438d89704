#!/usr/bin/env bash
# A CUDA toolkit from PyPI, enough to build biolore with `--features cuda` on a machine without
# one (no GPU needed to build): nvcc, the runtime and CCCL headers, cuBLAS, cuRAND and NVRTC wheels
# installed into .cuda/ (git-ignored), plus link stubs, and .cuda/env.sh to source before
# `cargo build --release --features cuda` (scripts/build-cuda.sh does both).
#
#   scripts/cuda-toolkit.sh          (also: scripts/setup.sh cuda)
#
# What the wheels lack and this script adds, in .cuda/nvidia/cu13/lib/stubs/:
#   - unversioned names (libcublas.so → libcublas.so.13, …) for the linker's -lcublas;
#   - libcuda.so, a stub of the driver library (SONAME libcuda.so.1) defining the driver API's
#     function names, as the CUDA toolkit's own lib64/stubs/libcuda.so does: candle links the
#     driver at build time (cudarc's dynamic-linking); at run time the GPU machine's real
#     libcuda.so.1 is loaded instead.
# BIOLORE_CUDA_VERSION picks the toolkit: 13.0 (default) or 13.5. The kernels are PTX that the
# GPU machine's driver compiles when they load, and a driver refuses PTX from a newer toolkit than
# its own (CUDA_ERROR_UNSUPPORTED_PTX_VERSION): 13.0 runs on every CUDA 13 driver (R580 and
# later), 13.5 needs a driver of 13.5 or later. env.sh sets CUDARC_CUDA_VERSION to match (cudarc
# 0.19 knows CUDA up to 13.4; a newer 13.x keeps its API). CUDA_COMPUTE_CAP (default 90:
# H100/H200) chooses the GPU architecture the kernels are compiled for.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${BIOLORE_CUDA:-$root/.cuda}"
log() { printf '[cuda] %s\n' "$*" >&2; }

version="${BIOLORE_CUDA_VERSION:-13.0}"
case "$version" in
  13.0) PACKAGES=(nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-crt==13.0.88
          nvidia-cuda-runtime==13.0.96 nvidia-cuda-nvrtc==13.0.88
          nvidia-cuda-cccl==13.0.85 nvidia-cublas==13.1.0.3 nvidia-curand==10.4.0.35)
        cudarc_version=13000 ;;
  13.5) PACKAGES=(nvidia-cuda-nvcc==13.5.37 nvidia-nvvm==13.5.37 nvidia-cuda-crt==13.5.37
          nvidia-cuda-runtime==13.5.37 nvidia-cuda-nvrtc==13.5.37
          nvidia-cuda-cccl==13.3.5.0.6 nvidia-cublas==13.10.0.20 nvidia-curand==10.4.5.25)
        cudarc_version=13040 ;;
  *) log "BIOLORE_CUDA_VERSION=$version: expected 13.0 or 13.5"; exit 2 ;;
esac
home="$dest/nvidia/cu13"
if [ -x "$home/bin/nvcc" ] && [ -f "$dest/env.sh" ] && [ "$(cat "$dest/version" 2>/dev/null)" = "$version" ]; then
  log "CUDA $version present ($home)"; exit 0
fi
if [ -f "$dest/env.sh" ]; then
  log "replacing the toolkit in $dest (it is not CUDA $version)"; rm -rf "$dest"
elif [ -e "$dest" ] && [ -n "$(ls -A "$dest")" ]; then
  log "$dest exists and holds no toolkit this script installed; choose another BIOLORE_CUDA"; exit 1
fi
log "installing ${PACKAGES[*]} from PyPI into $dest (~1.2 GB)"
python3 -m pip install --quiet --disable-pip-version-check --target "$dest" "${PACKAGES[@]}" \
  || pip install --quiet --disable-pip-version-check --target "$dest" "${PACKAGES[@]}"
[ -x "$home/bin/nvcc" ] || { log "no nvcc in $home/bin after installing"; exit 1; }

stubs="$home/lib/stubs"
mkdir -p "$stubs"
for lib in cublas cublasLt curand nvrtc cudart; do
  real="$(ls "$home"/lib/lib$lib.so.* 2>/dev/null | grep -v builtins | head -n1 || true)"
  [ -n "$real" ] || { log "lib$lib.so.* missing in $home/lib"; exit 1; }
  ln -sf "$real" "$stubs/lib$lib.so"
done

# The driver stub: every cu* function the driver bindings of cudarc (the crate candle uses)
# declare, as an empty function. Needs the crate's source: cargo fetches it.
(cd "$root" && cargo fetch --quiet)
sys="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.*/src/driver/sys/mod.rs | tail -n1)"
[ -f "$sys" ] || { log "cudarc's driver bindings not found under ${CARGO_HOME:-$HOME/.cargo}/registry"; exit 1; }
grep -oE '^\s+(pub )?fn cu[A-Za-z0-9_]+\(' "$sys" | sed -E 's/.*fn (cu[A-Za-z0-9_]+)\(/\1/' \
  | sort -u | awk '{ print "void " $1 "(void) {}" }' > "$stubs/libcuda-stub.c"
cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$stubs/libcuda.so" "$stubs/libcuda-stub.c"
log "driver stub: $(wc -l < "$stubs/libcuda-stub.c") functions"

cat > "$dest/env.sh" <<EOF
# Source before building or running biolore with --features cuda (written by scripts/cuda-toolkit.sh).
export CUDA_ROOT="$home" CUDA_PATH="$home" CUDA_HOME="$home"
export PATH="$home/bin:$home/nvvm/bin:\$PATH"
export CUDARC_CUDA_VERSION="\${CUDARC_CUDA_VERSION:-$cudarc_version}"
export CUDA_COMPUTE_CAP="\${CUDA_COMPUTE_CAP:-90}"
export LIBRARY_PATH="$stubs\${LIBRARY_PATH:+:\$LIBRARY_PATH}"
# At run time: the wheels' cuBLAS, cuRAND, NVRTC (the driver comes from the GPU machine).
export LD_LIBRARY_PATH="$home/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
EOF
echo "$version" > "$dest/version"
log "installed; source $dest/env.sh (nvcc $("$home/bin/nvcc" --version | grep -oE 'release [0-9.]+'))"

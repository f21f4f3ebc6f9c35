#!/usr/bin/env bash
# Installs everything mlp_exp needs, and is safe to run again: Python packages into .venv/ at the repo root
# and, where apt-get is usable as root, Debian's copy of Fashion-MNIST (and python3-venv and gcc where needed).
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=()
[ -d /usr/share/datasets/fashion-mnist ] || apt_packages+=(dataset-fashion-mnist)
python3 -c "import ensurepip" 2>/dev/null || apt_packages+=(python3-venv)
# On AMD CPUs with AVX-512, a one-line C library lets MKL use its AVX-512 kernels (mlp_exp/mkl_on_amd.py says how).
mkl_on_amd=false
grep -q AuthenticAMD /proc/cpuinfo 2>/dev/null && grep -qw avx512f /proc/cpuinfo && mkl_on_amd=true
if $mkl_on_amd && ! command -v cc >/dev/null; then apt_packages+=(gcc); fi
if [ ${#apt_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}" >/dev/null
  else
    echo "setup: not root, so not installing ${apt_packages[*]} with apt-get." >&2
    echo "setup: without dataset-fashion-mnist, mlp_exp downloads Fashion-MNIST with torchvision (needs internet)." >&2
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
# pip is re-run only when pyproject.toml changed since the last complete install.
stamp=.venv/.mlp_exp-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --editable '.[dev]'
  touch "$stamp"
fi

shim=.venv/lib/mlp_exp_mkl_on_amd.so
if $mkl_on_amd && command -v cc >/dev/null && [ ! "$shim" -nt mlp_exp/mkl_on_amd.c ]; then
  cc -shared -fPIC -nostdlib -O2 -o "$shim" mlp_exp/mkl_on_amd.c
fi

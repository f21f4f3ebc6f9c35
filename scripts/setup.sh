#!/usr/bin/env bash
# Installs everything mlp_exp needs, and is safe to run again: Python packages into .venv/ at the repo root
# and, where apt-get is usable as root, Debian's copy of Fashion-MNIST (and python3-venv and gcc where needed).
set -euo pipefail
cd "$(dirname "$0")/.."

# Installs Debian packages, where apt-get is usable as root; fails otherwise, saying so.
apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup: not root with apt-get, so not installing $*." >&2
    return 1
  fi
  if [ -z "${apt_updated:-}" ]; then apt-get update -qq || return 1; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

python3 -c "import ensurepip" 2>/dev/null || apt_install python3-venv
[ -d /usr/share/datasets/fashion-mnist ] || apt_install dataset-fashion-mnist ||
  echo "setup: without dataset-fashion-mnist, mlp_exp downloads Fashion-MNIST with torchvision (needs internet)." >&2
# On AMD CPUs with AVX-512, a one-line C library lets MKL use its AVX-512 kernels (mlp_exp/mkl_on_amd.py says how).
mkl_on_amd=false
grep -q AuthenticAMD /proc/cpuinfo 2>/dev/null && grep -qw avx512f /proc/cpuinfo && mkl_on_amd=true
if $mkl_on_amd && ! command -v cc >/dev/null; then
  apt_install gcc || echo "setup: without a C compiler, MKL's matrix products run at half speed on this CPU." >&2
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
# pip is re-run only when pyproject.toml changed since the last complete install.
stamp=.venv/.mlp_exp-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing mlp_exp and its packages into .venv/ (torch's Linux wheels bring its CUDA libraries:" \
    "several GB to download the first time) ..." >&2
  .venv/bin/python -m pip install --quiet --editable '.[dev]'
  echo "setup: done; .venv/bin/python -m mlp_exp runs the default experiment." >&2
  touch "$stamp"
fi

if $mkl_on_amd && command -v cc >/dev/null; then
  # Built once, and again only after mkl_on_amd.c changed; a failure costs speed, not the set-up.
  .venv/bin/python -m mlp_exp.build_mkl_on_amd >/dev/null || echo "setup: so MKL keeps its AVX2 kernels here." >&2
fi

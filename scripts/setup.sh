#!/usr/bin/env bash
# Installs everything mlp_exp needs, and is safe to run again: Python packages into .venv/ at the repo root
# and, where apt-get is usable as root, Debian's copy of Fashion-MNIST (and python3-venv if it is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=()
[ -d /usr/share/datasets/fashion-mnist ] || apt_packages+=(dataset-fashion-mnist)
python3 -c "import ensurepip" 2>/dev/null || apt_packages+=(python3-venv)
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

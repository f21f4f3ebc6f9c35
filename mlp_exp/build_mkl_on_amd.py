"""`python -m mlp_exp.build_mkl_on_amd`: builds the library of mlp_exp/mkl_on_amd.py (scripts/setup.sh runs it; a
`pip install` does not), where it would help and is not built yet. A module of its own: mlp_exp's import loads
mkl_on_amd, which `python -m` would then run a second time."""

from mlp_exp.exits import fail
from mlp_exp.mkl_on_amd import LIBRARY, build

if __name__ == "__main__":
    try:
        print(build())
    except OSError as e:
        fail(f"cannot build {LIBRARY}: {e}")

"""scripts/bench.py --quick runs end to end on real Fashion-MNIST and prints its full table (no time asserted)."""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_quick_benchmark_prints_every_measure_and_the_pipelines_learn_alike(real_fashion_mnist):
    result = subprocess.run(
        [sys.executable, "scripts/bench.py", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    rows = dict(re.findall(r"^\| (.+?) +\| +(.+?) \|", result.stdout, flags=re.MULTILINE))
    for measure in (
        "(a) mlp_exp epoch",
        "(b) seed notebook pipeline epoch",
        "(c) matmul floor per epoch",
        "(d) (a) without autograd",
        "speed-up b/a",
        "start-up to first training step",
        "peak RSS",
        "pictures' share",
    ):
        (value,) = [v for k, v in rows.items() if k.startswith(measure) or measure in k]
        assert re.search(r"\d", value)
    (accuracies,) = [v for k, v in rows.items() if k.startswith("test acc after")]
    acc_a, acc_b, acc_d = map(float, accuracies.split(" / "))
    # Same model, same optimizer, same initial weights, different shuffles: two epochs land within seed noise of
    # each other, a few points this early (0.796 and 0.768 when written); a pipeline that does not learn is at 0.1.
    assert acc_a > 0.7 and acc_b > 0.7 and abs(acc_a - acc_b) < 0.05
    # (d) trains (a)'s model on (a)'s batches with hand-written gradients: the same numbers up to float rounding
    # (0.7962 both when written); a gradient written wrong would not land within a few test images of (a).
    assert abs(acc_a - acc_d) < 0.003

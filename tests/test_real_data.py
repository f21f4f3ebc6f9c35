"""The real experiment on real Fashion-MNIST. In CI (CI=true) missing data fails instead of skipping."""

from conftest import compose_cfg

from mlp_exp import data
from mlp_exp.train import train


def test_one_epoch_of_the_default_config_learns_real_fashion_mnist(real_fashion_mnist, tmp_path):
    cfg = compose_cfg("epochs=1", "dataset.download=false", "device=cpu")
    train_set, test_set = data.load(cfg.dataset)
    assert (len(train_set), len(test_set)) == (60_000, 10_000)

    metrics = train(cfg, tmp_path / "run")

    assert metrics["status"] == "completed"
    assert metrics["test_acc"] > 0.75
    assert 0.3 < metrics["train_loss"] < 1.5  # d2l's first epoch: about 1.0
    counts = [row.split(",")[1:] for row in (tmp_path / "run" / "confusion_matrix.csv").read_text().splitlines()[1:]]
    assert sum(int(n) for row in counts for n in row) == 10_000

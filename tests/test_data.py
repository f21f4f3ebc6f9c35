import logging

import pytest
import torch
from conftest import TINY_TEST, TINY_TRAIN, compose_cfg, tiny_overrides, write_tiny_dataset

from mlp_exp import data
from mlp_exp.config import DatasetName
from mlp_exp.data import RAW_FILES, TORCHVISION_CLASS, DataError


def dataset_cfg(*overrides):
    return compose_cfg(*overrides).dataset


@pytest.mark.parametrize("name", list(DatasetName), ids=lambda d: d.name)
def test_each_dataset_loads_through_torchvision_from_its_raw_layout(tmp_path, name):
    root = tmp_path / "data"
    written = write_tiny_dataset(root / TORCHVISION_CLASS[name] / "raw")
    cfg = dataset_cfg(f"dataset={name.name}", *tiny_overrides(root))

    train_set, test_set = data.load(cfg)

    assert train_set.images.shape == (TINY_TRAIN, 784) and train_set.images.dtype == torch.uint8
    assert test_set.labels.shape == (TINY_TEST,) and test_set.labels.dtype == torch.int64
    assert torch.equal(train_set.images, torch.from_numpy(written["train-images-idx3-ubyte"]).reshape(TINY_TRAIN, -1))
    assert torch.equal(test_set.labels, torch.from_numpy(written["t10k-labels-idx1-ubyte"]).long())
    assert data.cache_path(cfg).is_file()


def test_later_loads_read_the_cache_without_torchvision(tiny_root, monkeypatch):
    cfg = dataset_cfg(*tiny_overrides(tiny_root))
    first_train, _ = data.load(cfg)

    def fail(*args, **kwargs):
        raise AssertionError("torchvision was used although the cache exists")

    monkeypatch.setattr(data, "_torchvision_dataset", fail)
    again_train, _ = data.load(cfg)
    assert torch.equal(first_train.images, again_train.images)


def test_a_system_copy_of_gzipped_files_is_used_without_touching_user_files(tmp_path, caplog):
    system_dir = tmp_path / "usr-share"
    written = write_tiny_dataset(system_dir, gz=True)
    root = tmp_path / "data"
    raw_dir = root / "FashionMNIST" / "raw"
    raw_dir.mkdir(parents=True)
    # The user already has one of the files: it must be read, not replaced.
    mine = written["t10k-labels-idx1-ubyte"].copy()
    mine[:] = 7
    from conftest import write_idx

    write_idx(raw_dir / "t10k-labels-idx1-ubyte", mine)
    cfg = dataset_cfg(f"dataset.root={root}", f"dataset.system_dir={system_dir}", "dataset.download=false")

    with caplog.at_level(logging.INFO, logger="mlp_exp.data"):
        train_set, test_set = data.load(cfg)

    unpacked = "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte"  # not the user's file
    assert f"Unpacking {unpacked} from {system_dir} into {raw_dir}" in caplog.messages
    assert sorted(p.name for p in raw_dir.iterdir()) == sorted(RAW_FILES)
    assert torch.equal(train_set.labels, torch.from_numpy(written["train-labels-idx1-ubyte"]).long())
    assert torch.all(test_set.labels == 7)


def test_dirs_given_under_the_home_dir_are_found_there(tmp_path, monkeypatch):
    """A `~` as a YAML file or a quoted override ('dataset.system_dir="~/fm"') gives it."""
    monkeypatch.setenv("HOME", str(tmp_path))
    written = write_tiny_dataset(tmp_path / "fm", gz=True)
    cfg = dataset_cfg('dataset.root="~/data"', 'dataset.system_dir="~/fm"', "dataset.download=false")

    train_set, _ = data.load(cfg)

    assert torch.equal(train_set.labels, torch.from_numpy(written["train-labels-idx1-ubyte"]).long())
    assert (tmp_path / "data" / "FashionMNIST" / "raw").is_dir()


def test_missing_data_names_every_place_tried_and_both_fixes(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "nosys")  # the package is not installed
    cfg = dataset_cfg(
        f"dataset.root={tmp_path / 'nowhere'}", f"dataset.system_dir={tmp_path / 'nosys'}", "dataset.download=false"
    )
    with pytest.raises(DataError) as error:
        data.load(cfg)
    message = str(error.value)
    assert str(tmp_path / "nowhere" / "FashionMNIST" / "raw") in message
    assert str(tmp_path / "nosys") in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert message.endswith("or set dataset.download=true with internet access")
    assert "\n" not in message


@pytest.mark.parametrize("name", ["mnist", "kmnist"])
def test_gzipped_files_put_into_the_raw_dir_are_unpacked_there(tmp_path, name):
    """As torchvision's download leaves them, or a copy of them."""
    raw_dir = tmp_path / "data" / TORCHVISION_CLASS[DatasetName[name]] / "raw"
    written = write_tiny_dataset(raw_dir, gz=True)
    cfg = dataset_cfg(f"dataset={name}", *tiny_overrides(tmp_path / "data"))

    train_set, _ = data.load(cfg)

    assert torch.equal(train_set.labels, torch.from_numpy(written["train-labels-idx1-ubyte"]).long())
    assert all((raw_dir / raw).is_file() and (raw_dir / f"{raw}.gz").is_file() for raw in RAW_FILES)


def test_a_system_dir_with_some_of_the_files_names_the_others(tmp_path):
    system_dir = tmp_path / "mine"
    write_tiny_dataset(system_dir, gz=True)
    (system_dir / "t10k-labels-idx1-ubyte.gz").unlink()
    cfg = dataset_cfg(f"dataset.root={tmp_path / 'data'}", f"dataset.system_dir={system_dir}", "dataset.download=false")

    with pytest.raises(DataError) as error:
        data.load(cfg)
    assert f"; {system_dir} (IDX files, gzipped or not) lacks t10k-labels-idx1-ubyte(.gz). Fix: " in str(error.value)


@pytest.mark.parametrize("gz", [False, True])
def test_a_system_dir_of_ones_own_holds_the_files_gzipped_or_not(tmp_path, gz, caplog):
    system_dir = tmp_path / "mine"
    written = write_tiny_dataset(system_dir, gz=gz)
    cfg = dataset_cfg(f"dataset.root={tmp_path / 'data'}", f"dataset.system_dir={system_dir}", "dataset.download=false")
    with caplog.at_level(logging.INFO, logger="mlp_exp"):
        train_set, _ = data.load(cfg)
    assert torch.equal(train_set.labels, torch.from_numpy(written["train-labels-idx1-ubyte"]).long())
    assert f"{'Unpacking' if gz else 'Copying'} train-images-idx3-ubyte, " in caplog.text


def test_a_file_there_as_it_is_is_taken_before_its_gzipped_copy(tmp_path):
    system_dir = tmp_path / "mine"
    written = write_tiny_dataset(system_dir)
    (system_dir / "train-labels-idx1-ubyte.gz").write_bytes(b"not gzip")  # a broken copy beside the good file
    cfg = dataset_cfg(f"dataset.root={tmp_path / 'data'}", f"dataset.system_dir={system_dir}", "dataset.download=false")
    train_set, _ = data.load(cfg)
    assert torch.equal(train_set.labels, torch.from_numpy(written["train-labels-idx1-ubyte"]).long())


@pytest.mark.parametrize("system_dir", ["null", "own_copy"])
def test_without_the_packages_dir_the_fix_is_not_to_install_the_package(tmp_path, system_dir):
    """No system_dir, or the user's own copy that no package fills."""
    if system_dir != "null":
        system_dir = str(tmp_path / system_dir)
    cfg = dataset_cfg(f"dataset.root={tmp_path}", f"dataset.system_dir={system_dir}", "dataset.download=false")
    with pytest.raises(DataError) as error:
        data.load(cfg)
    assert "apt-get" not in str(error.value)


def test_the_fashion_mnist_package_is_not_the_fix_for_another_dataset(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "debian")
    cfg = dataset_cfg(
        "dataset=mnist",
        f"dataset.root={tmp_path}",
        f"dataset.system_dir={tmp_path / 'debian'}",
        "dataset.download=false",
    )
    with pytest.raises(DataError) as error:
        data.load(cfg)
    assert "apt-get" not in str(error.value)

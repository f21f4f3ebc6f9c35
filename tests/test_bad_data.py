"""Missing, truncated or corrupt dataset files: one line naming the file and the fix; the user's files stay."""

import errno
import gzip
import logging
import os
import shutil
import subprocess
import sys

import pytest
import torch
from conftest import Payload, compose_cfg, run_cli, tiny_overrides, write_tiny_dataset

from mlp_exp import data
from mlp_exp.data import DataError


def dataset_cfg(*overrides):
    return compose_cfg(*overrides).dataset


def raw_dir(root):
    return root / "FashionMNIST" / "raw"


def snapshot(directory):
    return {path.name: path.read_bytes() for path in directory.iterdir()}


def load_error(cfg) -> str:
    with pytest.raises(DataError) as error:
        data.load(cfg)
    message = str(error.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    "damage, problem",
    [
        (lambda b: b[: len(b) // 2], "truncated"),
        (lambda b: b[:6], "truncated: 6 bytes, not even a whole header"),
        (lambda b: b + b"\0" * 10, "too long"),
        (lambda b: b"PK\x03\x04" + b[4:], "not an IDX file"),
    ],
    ids=["half", "header-cut", "extra-bytes", "not-idx"],
)
def test_a_damaged_raw_file_is_named_with_the_fix_and_left_alone(tiny_root, damage, problem):
    path = raw_dir(tiny_root) / "train-images-idx3-ubyte"
    path.write_bytes(damage(path.read_bytes()))
    before = snapshot(raw_dir(tiny_root))

    message = load_error(dataset_cfg(*tiny_overrides(tiny_root)))

    assert message.startswith(f"{path} is corrupt ({problem}")
    assert message.endswith(f"or delete {raw_dir(tiny_root)} to have all four files unpacked or downloaded again")
    assert snapshot(raw_dir(tiny_root)) == before
    assert not data.cache_path(dataset_cfg(*tiny_overrides(tiny_root))).exists()


def test_labels_that_do_not_match_the_images_are_named(tiny_root):
    from conftest import tiny_split, write_idx

    _, labels = tiny_split(50, seed=3)  # 50 labels for 600 images
    path = raw_dir(tiny_root) / "train-labels-idx1-ubyte"
    write_idx(path, labels)

    message = load_error(dataset_cfg(*tiny_overrides(tiny_root)))
    assert message.startswith(
        f"{raw_dir(tiny_root) / 'train-images-idx3-ubyte'} holds 600 images but train-labels-idx1-ubyte 50 labels: "
        "one of the two is another split's or dataset's; replace that one with a good copy"
    )


@pytest.mark.parametrize("label", [200, 10])  # 10: the first beyond the classes 0-9
def test_a_label_beyond_the_datasets_classes_is_named_and_never_cached(tiny_root, label):
    from conftest import tiny_split, write_idx

    _, labels = tiny_split(100, seed=2)
    labels[7] = label
    path = raw_dir(tiny_root) / "t10k-labels-idx1-ubyte"
    write_idx(path, labels)
    cfg = dataset_cfg(*tiny_overrides(tiny_root))

    assert load_error(cfg).startswith(f"{path} holds label {label}, but fashion_mnist has 10 classes (0-9); replace")
    assert not data.cache_path(cfg).exists()


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("kmnist", "KMNIST")])
def test_another_datasets_files_are_refused_under_this_ones_name(real_fashion_mnist, tmp_path, name, folder):
    # The real Fashion-MNIST files given as MNIST's: they would train, and be reported, as MNIST.
    if not (data.DEBIAN_FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file():  # prepared from a download
        pytest.skip(f"the test gives the files in {data.DEBIAN_FASHION_MNIST} as another dataset's")
    cfg = dataset_cfg(
        f"dataset={name}",
        f"dataset.root={tmp_path}",
        f"dataset.system_dir={data.DEBIAN_FASHION_MNIST}",
        "dataset.download=false",
    )
    raw = tmp_path / folder / "raw"

    assert load_error(cfg) == (
        f"{raw / 'train-images-idx3-ubyte'} holds fashion_mnist's images, not {name}'s (their mean brightness is "
        f"0.2860, {name}'s {data.TRAIN_MEAN[cfg.name]}); put {name}'s four files in {raw} instead, or delete it and "
        f"point dataset.system_dir at {name}'s .gz files (or set dataset.system_dir=null dataset.download=true)"
    )
    assert not data.cache_path(cfg).exists()


def test_a_raw_file_replaced_after_the_cache_was_built_is_read_again(tiny_root):
    from conftest import tiny_split, write_idx

    cfg = dataset_cfg(*tiny_overrides(tiny_root))
    _, test = data.load(cfg)
    _, labels = tiny_split(100, seed=5)
    path = raw_dir(tiny_root) / "t10k-labels-idx1-ubyte"
    write_idx(path, labels)
    os.utime(path, (1e9, 1e9))  # an older copy, its time kept (cp -p, tar, rsync -a)

    _, replaced = data.load(cfg)

    assert replaced.labels.tolist() == labels.tolist() != test.labels.tolist()
    rebuilt = data.cache_path(cfg).stat().st_mtime_ns
    assert data.load(cfg)[1].labels.tolist() == labels.tolist()
    assert data.cache_path(cfg).stat().st_mtime_ns == rebuilt  # rebuilt once, then used


def test_a_cache_of_other_raw_files_in_a_read_only_root_is_still_used(tiny_root, monkeypatch, caplog):
    cfg = dataset_cfg(*tiny_overrides(tiny_root))
    _, test = data.load(cfg)
    cache = data.cache_path(cfg)
    for raw in raw_dir(tiny_root).iterdir():  # copied anew, say
        os.utime(raw, (cache.stat().st_mtime + 1, cache.stat().st_mtime + 1))

    def read_only(path):  # as writing into a read-only dir fails, for root (who CI runs as) too
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(data, "atomic_write", read_only)
    _, again = data.load(cfg)

    assert again.labels.tolist() == test.labels.tolist()
    assert f"{cache} was made from other raw files but cannot be rebuilt (" in caplog.text


def test_a_dataset_root_that_is_a_file_is_named(tmp_path):
    root = tmp_path / "not-a-dir"
    root.write_text("")
    system_dir = tmp_path / "usr-share"
    write_tiny_dataset(system_dir, gz=True)

    message = load_error(dataset_cfg(f"dataset.root={root}", f"dataset.system_dir={system_dir}"))

    assert message.startswith(f"cannot prepare fashion_mnist in {root} (")
    assert message.endswith("); set dataset.root to a dir you can write to")


@pytest.mark.parametrize("where", ["system_dir", "raw_dir"])
def test_a_corrupt_gzipped_file_is_named_with_the_fix_for_where_it_is_and_leaves_no_partial_file(tmp_path, where):
    root = tmp_path / "data"
    gz_dir = tmp_path / "usr-share" if where == "system_dir" else raw_dir(root)
    write_tiny_dataset(gz_dir, gz=True)
    broken = gz_dir / "train-images-idx3-ubyte.gz"
    broken.write_bytes(broken.read_bytes()[:200])  # a cut-off download or a bad disk
    system_dir = gz_dir if where == "system_dir" else "null"
    cfg = dataset_cfg(f"dataset.root={root}", f"dataset.system_dir={system_dir}", "dataset.download=false")

    message = load_error(cfg)

    assert message.startswith(f"{broken} is corrupt (")
    if where == "system_dir":
        assert message.endswith(
            "; replace it with a good copy, or set dataset.system_dir=null to download the data instead (with "
            "dataset.download=true)"
        )
    else:  # where dataset.system_dir=null would change nothing
        assert message.endswith(f"; replace it with a good copy, or move {raw_dir(root)} away to start afresh")
    assert not (raw_dir(root) / "train-images-idx3-ubyte").exists()
    assert [p.name for p in raw_dir(root).iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_a_full_disk_while_unpacking_names_the_disk_not_the_good_source(tmp_path, monkeypatch):
    system_dir = tmp_path / "usr-share"
    write_tiny_dataset(system_dir, gz=True)
    root = tmp_path / "data"

    def disk_full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(shutil, "copyfileobj", disk_full)
    message = load_error(dataset_cfg(f"dataset.root={root}", f"dataset.system_dir={system_dir}"))
    assert message == (
        f"cannot unpack train-images-idx3-ubyte.gz into {raw_dir(root)} (No space left on device); free space "
        "there, or set dataset.root to a dir on another disk"
    )


def test_a_system_copy_with_a_truncated_array_is_named(tmp_path):
    system_dir = tmp_path / "usr-share"
    write_tiny_dataset(system_dir, gz=True)
    path = system_dir / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-5]))  # a valid gzip of a cut-off IDX file
    cfg = dataset_cfg(f"dataset.root={tmp_path / 'data'}", f"dataset.system_dir={system_dir}", "dataset.download=false")

    assert load_error(cfg).startswith(f"{path} is corrupt (truncated")


def test_a_failed_download_is_named_with_its_file_and_cause(tmp_path, monkeypatch):
    def offline(cfg, train, download):  # torchvision's message, as it is without internet
        (data.data_root(cfg) / data.TORCHVISION_CLASS[cfg.name] / "raw").mkdir(parents=True)  # as torchvision does
        raise RuntimeError(
            "Error downloading train-images-idx3-ubyte.gz:\nTried https://ossci-datasets.s3.amazonaws.com/mnist/, "
            "got:\n<urlopen error [Errno -2] Name or service not known>\n"
        )

    monkeypatch.setattr(data, "_torchvision_dataset", offline)
    cfg = dataset_cfg("dataset=mnist", f"dataset.root={tmp_path / 'data'}", "dataset.download=true")

    assert load_error(cfg).endswith(
        "torchvision's download (Error downloading train-images-idx3-ubyte.gz: "
        "<urlopen error [Errno -2] Name or service not known>). Fix: put its four IDX files (train-images-idx3-ubyte, "
        "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; gzipped or not) in "
        f"{tmp_path / 'data' / 'MNIST' / 'raw'}, or download them with internet access"
    )
    assert list(tmp_path.iterdir()) == []  # no empty folders left from the download


@pytest.mark.parametrize(
    "missing, fix",
    [
        (["t10k-images-idx3-ubyte"], "t10k-images-idx3-ubyte; add it ("),
        (
            ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
            "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; add them (",
        ),
    ],
)
def test_a_partial_set_is_never_downloaded_over(tiny_root, monkeypatch, missing, fix):
    for name in missing:
        (raw_dir(tiny_root) / name).unlink()
    before = snapshot(raw_dir(tiny_root))

    def no_download(*args, **kwargs):
        raise AssertionError("torchvision was asked to download over the user's files")

    monkeypatch.setattr(data, "_torchvision_dataset", no_download)
    cfg = dataset_cfg(f"dataset.root={tiny_root}", "dataset.system_dir=null", "dataset.download=true")

    message = load_error(cfg)

    assert message.startswith(f"{raw_dir(tiny_root)} lacks {fix}")
    assert snapshot(raw_dir(tiny_root)) == before


@pytest.mark.parametrize(
    "damage",
    [lambda b: b[: len(b) // 2], lambda b: b"not a zip file", lambda b: b""],
    ids=["truncated", "garbage", "empty"],
)
def test_a_damaged_tensor_cache_is_made_again_from_the_raw_files(tiny_root, damage, caplog):
    cfg = dataset_cfg(*tiny_overrides(tiny_root))
    train_set, _ = data.load(cfg)
    images, labels = train_set.images.clone(), train_set.labels.clone()  # not the mmap of the file damaged below
    cache = data.cache_path(cfg)
    cache.write_bytes(damage(cache.read_bytes()))

    with caplog.at_level(logging.WARNING, logger=data.log.name):
        again, _ = data.load(cfg)

    assert torch.equal(again.images, images) and torch.equal(again.labels, labels)
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning == f"cannot read the prepared dataset {cache} (damaged, or not written by mlp_exp); making it again"


def test_runs_started_together_on_a_damaged_cache_all_load_it(tiny_root, tmp_path):
    cfg = dataset_cfg(*tiny_overrides(tiny_root))
    data.load(cfg)
    data.cache_path(cfg).write_bytes(b"not a zip file")
    go = tmp_path / "go"
    load = (  # imports paid for, each says so and waits for the same moment to load
        "import os, sys, time; from hydra import compose; from mlp_exp import config, data\n"
        "with config.composing(): cfg = compose('config', sys.argv[2:]).dataset\n"
        "print('ready', flush=True)\n"
        "while not os.path.exists(sys.argv[1]): time.sleep(0.001)\n"
        "print(len(data.load(cfg)[0]))"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", load, str(go), *tiny_overrides(tiny_root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    try:
        assert [run.stdout.readline() for run in runs] == ["ready\n"] * 6
        go.touch()
        results = [(run.wait(timeout=120), run.stdout.read().strip(), run.stderr.read()) for run in runs]
    finally:
        for run in runs:
            run.kill()
    assert all(code == 0 and out == "600" for code, out, _ in results), results


def test_a_cache_that_cannot_be_read_even_as_just_made_names_the_fix(tiny_root, monkeypatch):
    cfg = dataset_cfg(*tiny_overrides(tiny_root))
    data.load(cfg)

    def no_mmap(*args, mmap=False, **kwargs):
        raise RuntimeError("mmap is not supported here")

    monkeypatch.setattr(torch, "load", no_mmap)
    assert load_error(cfg) == (
        f"cannot read the prepared dataset {data.cache_path(cfg)} (damaged, or not written by mlp_exp), even as just "
        "made (mmap is not supported here); set dataset.root to a dir on another disk"
    )


def test_a_damaged_tensor_cache_without_its_raw_files_names_them(tiny_root):
    cfg = dataset_cfg(*tiny_overrides(tiny_root))
    data.load(cfg)
    data.cache_path(cfg).write_bytes(b"not a zip file")
    shutil.rmtree(raw_dir(tiny_root))

    assert load_error(cfg).startswith(f"{cfg.name.name} not found; tried: {raw_dir(tiny_root)} ")


def test_a_tensor_cache_carrying_code_is_made_again_without_running_it(tiny_root, tmp_path):
    marker = tmp_path / "code-ran"
    cfg = dataset_cfg(*tiny_overrides(tiny_root))
    data.cache_path(cfg).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"train_images": Payload(marker)}, data.cache_path(cfg))

    data.load(cfg)
    assert not marker.exists()
    assert torch.load(data.cache_path(cfg), weights_only=True)["train_images"].dtype == torch.uint8


def test_the_real_command_names_a_truncated_file_in_one_line(tiny_root, tmp_path):
    path = raw_dir(tiny_root) / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:1000])

    result = run_cli(*tiny_overrides(tiny_root), f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)

    assert result.returncode == 2
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {path} is corrupt (truncated: 1000 bytes"), lines
    assert "Traceback" not in result.stderr

"""Datasets as in-memory tensors: uint8 images (N, 784) and int64 labels (N,) per split.

The first use of a dataset reads it through torchvision's own dataset class (the real IDX parser) and saves
both splits into one tensor file next to the raw files; every later run loads that file in milliseconds
without importing torchvision (which alone costs seconds).

Where the raw files come from, in order: the configured root (torchvision's layout, `<root>/<Class>/raw/`),
a system copy of the gzipped files (Debian's `dataset-fashion-mnist`), then torchvision's download.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import math
import os
import shutil
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from mlp_exp.config import INSTALLED, ConfigError, DatasetConfig, DatasetName, first_line
from mlp_exp.exits import OneLineError
from mlp_exp.files import WRITE_ERRNOS, atomic_write

log = logging.getLogger(__name__)

# dataset.root's default: a clone's own (git-ignored) data/; for an installed package, the user's cache, as
# site-packages is no place to write to.
PROJECT_DATA = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlp_exp"
    if INSTALLED
    else Path(__file__).resolve().parents[1] / "data"
)
TORCHVISION_CLASS = {
    DatasetName.fashion_mnist: "FashionMNIST",
    DatasetName.mnist: "MNIST",
    DatasetName.kmnist: "KMNIST",
}
# The same four IDX file names for all three datasets, as torchvision stores them uncompressed.
RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CACHE_NAME = "mlp_exp_tensors.pt"
# The mean brightness (0 to 1) of each dataset's 60000 training images, as published with it for normalizing:
# far enough apart to tell one dataset's files from another's.
TRAIN_MEAN = {DatasetName.mnist: 0.1307, DatasetName.fashion_mnist: 0.2860, DatasetName.kmnist: 0.1918}
TRAIN_SIZE, MEAN_TOLERANCE = 60000, 0.02
# Where Debian's dataset-fashion-mnist package puts its files: conf/dataset/fashion_mnist.yaml's system_dir.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


class DataError(OneLineError, RuntimeError):
    """The dataset cannot be found or read; the message names the paths and the fix."""


@dataclass
class Split:
    images: torch.Tensor  # (N, 784) uint8, one flattened 28 x 28 image per row
    labels: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: torch.device) -> Split:
        return Split(self.images.to(device), self.labels.to(device))


# Draws which training images dataset.val_fraction holds out: fixed, so that runs of every seed are validated on
# the same images, and a resumed run on those it started with.
VAL_DRAW_SEED = 0


def hold_out(train: Split, fraction: float) -> tuple[Split, Split | None]:
    """(train, validation): `fraction` of the training images, drawn at random but the same in every run, held out;
    each part keeps the images' order. With `fraction` 0, the training set as it is, and None."""
    if not fraction:
        return train, None
    held = round(fraction * len(train))
    if not 0 < held < len(train):
        raise ConfigError(
            f"dataset.val_fraction={fraction} is not allowed: it holds out {held} of the {len(train)} training images; "
            "leave at least one image on each side"
        )
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(VAL_DRAW_SEED))
    parts = (order[held:].sort().values, order[:held].sort().values)
    return tuple(Split(train.images[rows], train.labels[rows]) for rows in parts)


def data_root(cfg: DatasetConfig) -> Path:
    return Path(cfg.root).expanduser() if cfg.root else PROJECT_DATA


def system_dir(cfg: DatasetConfig) -> Path | None:
    """dataset.system_dir, `~` and all, as a YAML file or a quoted override ('dataset.system_dir="~/fm"') gives it."""
    return Path(cfg.system_dir).expanduser() if cfg.system_dir else None


def cache_path(cfg: DatasetConfig) -> Path:
    return data_root(cfg) / TORCHVISION_CLASS[cfg.name] / CACHE_NAME


def load(cfg: DatasetConfig) -> tuple[Split, Split]:
    """(train, test) splits, preparing the tensor cache on first use. Raises ConfigError where `cfg.classes` does
    not name each of the dataset's classes: the net gets one output per name."""
    path = prepare(cfg)
    try:
        splits, _ = _read_cache(path)
    except DataError as damaged:  # the cache is only a faster copy of the raw files: made again from them
        log.warning("%s; making it again", damaged)
        path = prepare(cfg, again=True)  # replaced in one rename: another process reading it meanwhile is unharmed
        try:
            splits, _ = _read_cache(path)
        except DataError as e:  # not the file but where it is: a file system without mmap, or no memory left
            raise DataError(
                f"{e}, even as just made ({first_line(e.__cause__ or e)}); set dataset.root to a dir on another disk"
            ) from e
    num_classes = int(splits[0].labels.max()) + 1
    if len(cfg.classes) != num_classes:
        raise ConfigError(
            f"dataset.classes has {len(cfg.classes)} names but {cfg.name.name} has {num_classes} classes: give one "
            "name per class, in label order"
        )
    return splits


def _read_cache(path: Path) -> tuple[tuple[Split, Split], list | None]:
    """The splits in a tensor cache, and the fingerprint of the raw files it was made from (None: not recorded)."""
    try:
        # mmap: the splits are paged in from the file instead of copied into fresh memory.
        blob = torch.load(path, weights_only=True, mmap=True)
        splits = tuple(
            Split(blob[f"{split}_images"].reshape(len(blob[f"{split}_labels"]), -1), blob[f"{split}_labels"])
            for split in ("train", "test")
        )
    except Exception as e:
        # Not torch's text, which speaks of a checkpoint: the cache is made again, whatever is wrong with it.
        raise DataError(f"cannot read the prepared dataset {path} (damaged, or not written by mlp_exp)") from e
    return splits, blob.get("raw_files")


def prepare(cfg: DatasetConfig, again: bool = False) -> Path:
    """The tensor cache for `cfg`, written from the raw IDX files (found or fetched first) unless it is current;
    `again`: written whatever there is (a damaged one)."""
    path = cache_path(cfg)
    if not again and _current(path):
        return path
    try:
        raw_dir = find_raw_files(cfg)
        _check_raw_files(raw_dir)
        blob = {"raw_files": _fingerprint(raw_dir)}
        for split, train in (("train", True), ("test", False)):
            blob[f"{split}_images"], blob[f"{split}_labels"] = _read_with_torchvision(cfg, raw_dir, train)
        _check_images_are(cfg, raw_dir, blob["train_images"])
        with atomic_write(path) as tmp:
            torch.save(blob, tmp)
    except OSError as e:  # dataset.root is a file, a dir this user cannot write to, or a full disk
        if path.exists() and not again:  # raw files copied anew beside their cache, in a shared, read-only root
            log.warning("%s was made from other raw files but cannot be rebuilt (%s); using it", path, first_line(e))
            return path
        raise DataError(
            f"cannot prepare {cfg.name.name} in {data_root(cfg)} ({first_line(e)}); "
            "set dataset.root to a dir you can write to"
        ) from e
    log.info("Prepared %s from %s into %s", cfg.name.name, raw_dir, path)
    return path


def _current(path: Path) -> bool:
    """Whether the cache exists and was made from the raw files beside it: a file the user replaced (by a newer or
    an older one) is read again, not hidden behind a cache of the old one. Without raw files, the cache is all
    there is."""
    raw_dir = path.parent / "raw"
    if not path.exists() or not all((raw_dir / name).exists() for name in RAW_FILES):
        return path.exists()
    try:
        _, made_from = _read_cache(path)
    except DataError:  # damaged: load() makes it again
        return True
    # None: made by an mlp_exp that kept no fingerprint, and taken as it is.
    return made_from is None or made_from == _fingerprint(raw_dir)


def _fingerprint(raw_dir: Path) -> list[list[int]]:
    """Each raw file's size and modification time: what changes when it is replaced."""
    return [[stat.st_size, stat.st_mtime_ns] for stat in ((raw_dir / name).stat() for name in RAW_FILES)]


def find_raw_files(cfg: DatasetConfig) -> Path:
    """The dir of the dataset's four raw IDX files, where torchvision reads them: found there, unpacked from gzipped
    ones there (as they are downloaded) or in dataset.system_dir, or downloaded; DataError naming each place tried
    where none has them."""
    root = data_root(cfg)
    class_name = TORCHVISION_CLASS[cfg.name]
    raw_dir = root / class_name / "raw"
    tried = [f"{raw_dir} (IDX files, or gzipped ones)"]
    present = [name for name in RAW_FILES if (raw_dir / name).is_file()]
    if len(present) == len(RAW_FILES):
        return raw_dir

    for source in dict.fromkeys(folder for folder in (raw_dir, system_dir(cfg)) if folder):
        if source != raw_dir:
            tried.append(f"{source} (IDX files, gzipped or not)")
        found = {name: path for name in RAW_FILES if (path := _raw_file(source, name))}
        if len(found) == len(RAW_FILES):
            raw_dir.mkdir(parents=True, exist_ok=True)
            unpacking = [name for name in RAW_FILES if name not in present]  # never overwrite a file the user put there
            gzipped = [found[name].suffix == ".gz" for name in unpacking]
            verb = "Unpacking" if all(gzipped) else "Copying" if not any(gzipped) else "Unpacking and copying"
            log.info("%s %s from %s into %s", verb, ", ".join(unpacking), source, raw_dir)
            if source == raw_dir:  # once some are unpacked, no download would start over: the folder must go
                fix = f"replace it with a good copy, or move {raw_dir} away to start afresh"
            else:
                fix = "replace it with a good copy, or set dataset.system_dir=null to download the data instead" + (
                    "" if cfg.download else " (with dataset.download=true)"
                )
            for name in unpacking:
                _unpack(found[name], raw_dir / name, fix)
            return raw_dir
        if found and (source != raw_dir or len(found) > len(present)):  # some are there: which are not is the fix
            tried[-1] += f" lacks {', '.join(f'{name}(.gz)' for name in RAW_FILES if name not in found)}"

    if present:
        # Some files are there: the user's. torchvision's download would rewrite all four, theirs among them.
        missing = [name for name in RAW_FILES if not _raw_file(raw_dir, name)]  # neither as it is nor gzipped
        raise DataError(
            f"{raw_dir} lacks {', '.join(missing)}; add {'it' if len(missing) == 1 else 'them'} "
            "(mlp_exp never downloads over files that are there), "
            "or move the folder away to start afresh"
        )
    if cfg.download:
        tried.append("torchvision's download")
        made = [folder for folder in (raw_dir, raw_dir.parent, root) if not folder.exists()]  # deepest first
        try:
            for train in (True, False):
                _torchvision_dataset(cfg, train=train, download=True)
            return raw_dir
        except (RuntimeError, OSError) as e:  # torchvision's "error downloading", or a URLError (an OSError)
            for folder in made:  # made for the download: none is left behind empty
                with contextlib.suppress(OSError):
                    folder.rmdir()
            # torchvision's first line names the file, its last the cause: "<urlopen error ... not known>"
            lines = [line for line in str(e).splitlines() if line.strip()] or [type(e).__name__]
            tried[-1] += f" ({lines[0].rstrip(':')}: {lines[-1]})" if len(lines) > 1 else f" ({lines[0]})"

    download = (
        "download them with internet access" if cfg.download else "set dataset.download=true with internet access"
    )
    fixes = f"put its four IDX files ({', '.join(RAW_FILES)}; gzipped or not) in {raw_dir}, or {download}"
    # Another system_dir is the user's own copy, which no package fills; with none, the user chose not to look there.
    if cfg.name is DatasetName.fashion_mnist and system_dir(cfg) == DEBIAN_FASHION_MNIST:
        fixes = "install it with `sudo apt-get install dataset-fashion-mnist`, or " + fixes
    raise DataError(f"{cfg.name.name} not found; tried: {'; '.join(tried)}. Fix: {fixes}")


def _raw_file(folder: Path, name: str) -> Path | None:
    """Raw file `name` in `folder`, as it is or gzipped (`name`.gz, as torchvision downloads it); None if neither."""
    return next((path for path in (folder / name, folder / f"{name}.gz") if path.is_file()), None)


def _unpack(source: Path, path: Path, fix: str) -> None:
    """gunzip (or copy, where `source` is not gzipped) into a temporary file first: a corrupt archive or a crash
    never leaves a partial file at `path`. `fix`: what to do about a corrupt `source`."""
    try:
        with atomic_write(path) as tmp:
            with (gzip.open if source.suffix == ".gz" else open)(source, "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
            _idx_shape(tmp)
    except (OSError, EOFError, zlib.error, ValueError) as e:  # gzip.BadGzipFile is an OSError
        if isinstance(e, OSError) and e.errno in WRITE_ERRNOS:  # the copy's side: nothing wrong with the source
            raise DataError(
                f"cannot unpack {source.name} into {path.parent} ({e.strerror}); free space there, or set "
                "dataset.root to a dir on another disk"
            ) from e
        raise DataError(f"{source} is corrupt ({first_line(e)}); {fix}") from e


def _replace_fix(raw_dir: Path, which: str = "it") -> str:
    return f"replace {which} with a good copy, or delete {raw_dir} to have all four files unpacked or downloaded again"


def _check_raw_files(raw_dir: Path) -> None:
    """Each split: N images of 28 x 28 and N labels, every file whole. Caught here, a truncated or corrupt file is
    named in one line; torchvision would stop with an assertion or a reshape error."""
    fix = _replace_fix(raw_dir)
    for images_name, labels_name in (RAW_FILES[:2], RAW_FILES[2:]):
        shapes = {}
        for name in (images_name, labels_name):
            try:
                shapes[name] = _idx_shape(raw_dir / name)
            except ValueError as e:
                raise DataError(f"{raw_dir / name} is corrupt ({e}); {fix}") from e
        images, labels = shapes[images_name], shapes[labels_name]
        if images[1:] != (28, 28):
            raise DataError(f"{raw_dir / images_name} holds an array of shape {images}, expected (N, 28, 28); {fix}")
        if len(labels) != 1:
            raise DataError(f"{raw_dir / labels_name} holds an array of shape {labels}, expected (N,); {fix}")
        if images[0] != labels[0]:
            raise DataError(
                f"{raw_dir / images_name} holds {images[0]} images but {labels_name} {labels[0]} labels: one of the "
                f"two is another split's or dataset's; {_replace_fix(raw_dir, 'that one')}"
            )


def _check_images_are(cfg: DatasetConfig, raw_dir: Path, images: torch.Tensor) -> None:
    """Refuses another dataset's training images under this one's name (Fashion-MNIST's files given as MNIST's),
    which would train and be reported as the dataset named, by their mean brightness. Only a whole training set
    (TRAIN_SIZE images) is held to the published mean."""
    if len(images) != TRAIN_SIZE:
        return
    mean = sum(chunk.sum(dtype=torch.int64).item() for chunk in images.split(1000)) / images.numel() / 255
    expected = TRAIN_MEAN[cfg.name]
    if abs(mean - expected) <= MEAN_TOLERANCE:
        return
    alike = [f"{other.name}'s" for other, its in TRAIN_MEAN.items() if abs(mean - its) <= MEAN_TOLERANCE]
    name = cfg.name.name
    raise DataError(
        f"{raw_dir / RAW_FILES[0]} holds {alike[0] if alike else 'other'} images, not {name}'s (their mean "
        f"brightness is {mean:.4f}, {name}'s {expected}); put {name}'s four files in {raw_dir} instead, or delete it "
        f"and point dataset.system_dir at {name}'s .gz files (or set dataset.system_dir=null dataset.download=true)"
    )


def _idx_shape(path: Path) -> tuple[int, ...]:
    """The array shape an IDX file of unsigned bytes announces in its header; ValueError if the file is not one,
    or holds more or fewer bytes than announced (truncated)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        # Two zero bytes, the element type (0x08: unsigned byte), the number of dimensions, then each dimension.
        magic = f.read(4)
        if len(magic) < 4 or magic[:3] != b"\x00\x00\x08" or not 1 <= magic[3] <= 3:
            raise ValueError(f"not an IDX file of unsigned bytes: it starts with {magic.hex() or 'nothing'}")
        dims = f.read(4 * magic[3])
    if len(dims) < 4 * magic[3]:
        raise ValueError(f"truncated: {size} bytes, not even a whole header")
    shape = struct.unpack(f">{magic[3]}I", dims)
    announced = 4 + len(dims) + math.prod(shape)
    if size != announced:
        raise ValueError(
            f"{'truncated' if size < announced else 'too long'}: {size} bytes, its header announces {announced}"
        )
    return shape


def _torchvision_dataset(cfg: DatasetConfig, train: bool, download: bool):
    import torchvision.datasets  # imported here: it costs seconds and is needed only to prepare the cache

    dataset_class = getattr(torchvision.datasets, TORCHVISION_CLASS[cfg.name])
    return dataset_class(str(data_root(cfg)), train=train, download=download)


def _read_with_torchvision(cfg: DatasetConfig, raw_dir: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    dataset = _torchvision_dataset(cfg, train=train, download=False)
    labels = dataset.targets.to(torch.int64)
    if len(labels) and labels.max() >= len(dataset.classes):  # a label file of another dataset, or a damaged one
        path = raw_dir / RAW_FILES[1 if train else 3]
        raise DataError(
            f"{path} holds label {labels.max().item()}, but {cfg.name.name} has {len(dataset.classes)} classes "
            f"(0-{len(dataset.classes) - 1}); {_replace_fix(raw_dir)}"
        )
    return dataset.data.contiguous(), labels

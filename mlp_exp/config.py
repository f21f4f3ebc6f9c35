"""The config schema: every knob, its type and its default, checked by Hydra before a run starts.

`conf/config.yaml` extends `Config` (stored in Hydra's ConfigStore as `mlp_exp_schema`), so an override
of the wrong type (`lr=abc`, `epochs=1.5`, `activation=ReLU`) fails while composing, and the YAML files
only choose values. Checks that a type cannot express (positive widths, ...) live in `check`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, get_type_hints

from hydra import initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf
from omegaconf.errors import InterpolationValidationError, OmegaConfBaseException

from mlp_exp.exits import OneLineError

# Absolute, so the console script and `python -m` find the same configs (a relative path does not: hydra#2125).
# A wheel has them inside the package (pyproject.toml); a clone, or an editable install of one, beside it.
_PACKAGE_DIR = Path(__file__).resolve().parent
INSTALLED = (_PACKAGE_DIR / "conf").is_dir()
CONF_DIR = _PACKAGE_DIR / "conf" if INSTALLED else _PACKAGE_DIR.parent / "conf"


# The config groups whose presets set up a sweep of their own (hydra.mode: MULTIRUN).
SWEEP_PRESETS = ("sweep", "hparams_search")


class ConfigError(OneLineError, ValueError):
    """A config value the user chose that cannot run; the message names the key, the value and the fix."""


def cannot_use(directory: Path, e: OSError, key: str) -> ConfigError:
    """A run's or sweep's dir that cannot be made or written (`hydra.run.dir=/proc/x`), and the key to change."""
    # mkdir's own word for a file there is "File exists", and for one above it "Not a directory"; isfile, unlike
    # Path.is_file, never raises.
    why = "it is a file" if isinstance(e, FileExistsError) and os.path.isfile(directory) else e.strerror or e
    if file_above := next((above for above in Path(directory).parents if os.path.isfile(above)), None):
        why = f"{file_above} is a file"
    return ConfigError(f"cannot use {directory} ({why}); choose another {key}")


def first_line(e: BaseException | str) -> str:
    """An exception's message (or a text) cut to its first line, for one-line errors; an exception with no message
    by its type's name."""
    text = str(e).strip()
    if text:
        return text.splitlines()[0]
    return type(e).__name__ if isinstance(e, BaseException) else "unknown error"


# OmegaConf 2.3 checks Enums, not typing.Literal, so each choice list is an Enum.
class Choice(Enum):
    """A knob's choices. Shown by name, as typed on the command line: Hydra's Tab completion offers a knob's
    value as `activation=relu`, not `activation=Activation.relu`."""

    def __str__(self) -> str:
        return self.name


class Activation(Choice):
    relu = "relu"
    sigmoid = "sigmoid"
    tanh = "tanh"
    gelu = "gelu"
    leaky_relu = "leaky_relu"


class Device(Choice):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class DatasetName(Choice):
    fashion_mnist = "fashion_mnist"
    mnist = "mnist"
    kmnist = "kmnist"


class OptimizerName(Choice):
    sgd = "sgd"
    adam = "adam"
    adamw = "adamw"


@dataclass
class DatasetConfig:
    name: DatasetName = MISSING
    # Where the torchvision-layout files and the prepared tensor cache live; null: data.PROJECT_DATA (a clone's
    # data/, or an installed package's ~/.cache/mlp_exp).
    root: str | None = None
    # A read-only copy of the four gzipped IDX files, e.g. Debian's dataset-fashion-mnist package.
    system_dir: str | None = None
    download: bool = True
    classes: list[str] = MISSING
    # The share of the training set held out to validate on (the same images in every run): a search selects on it,
    # not on the test set. 0: none, as in d2l.
    val_fraction: float = 0.0


@dataclass
class OptimizerConfig:
    name: OptimizerName = MISSING
    momentum: float = 0.0
    weight_decay: float = 0.0


@dataclass
class VisualsConfig:
    # False: only the epoch's scalars and metrics.json; no per-class accuracies, histograms, images or PNGs (see
    # mlp_exp/visuals.py).
    enabled: bool = True
    # Draw the figures (predictions, confusion matrix, ...) every k epochs as well as at the end; 0: at the end only.
    every: int = 0
    # How many test images the predictions grid shows: the first ones of the test set, the same in every run.
    predictions: int = 24


@dataclass
class Config:
    dataset: DatasetConfig = MISSING
    optimizer: OptimizerConfig = MISSING
    # An int for one hidden layer, or a list of ints ([512,256]) for a deeper net.
    # Typed Any because OmegaConf 2.3 has no Union[int, List[int]]; `check` validates it.
    hiddens: Any = 256
    lr: float = 0.1
    init_scale: float = 0.01
    activation: Activation = Activation.relu
    epochs: int = 10
    batch_size: int = 256
    # d2l fixes no seed. Plain SGD at lr 0.1 ends anywhere between 0.80 and 0.85 test accuracy depending on it
    # (seeds 0-8: epoch 1 at 0.69-0.76, epoch 10 at 0.80-0.85); seed 1 is a typical run (0.76, then 0.84).
    seed: int = 1
    device: Device = Device.auto
    # Intra-op CPU threads; 0: torch's default (one per core), a parallel sweep's job its share of the cores, and a
    # resumed run the threads it trained on (its numbers depend on them).
    threads: int = 0
    visuals: VisualsConfig = field(default_factory=VisualsConfig)


def register() -> None:
    """The schema, for conf/config.yaml's defaults, and the resolvers that name run and sweep dirs (run_dirs.py)."""
    from mlp_exp.run_dirs import job_dirname, run_dirname, stamp  # which imports this module

    ConfigStore.instance().store(name="mlp_exp_schema", node=Config)
    resolvers = (("mlp_exp.stamp", stamp), ("mlp_exp.run_dirname", run_dirname), ("mlp_exp.job_dirname", job_dirname))
    for name, resolver in resolvers:
        if not OmegaConf.has_resolver(name):
            # Cached in the config, as Hydra's ${now:} is: the run-dir callback resolves hydra.run.dir, then Hydra
            # does, and a second may tick between the two.
            OmegaConf.register_new_resolver(name, resolver, use_cache=True)


@contextmanager
def composing() -> Iterator[None]:
    """Hydra set up for `hydra.compose` of mlp_exp's configs, as it is inside a run's own process already."""
    if GlobalHydra.instance().is_initialized():
        yield
        return
    register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        yield


HIDDENS_ALLOWED = "a positive int (hiddens=256) or a non-empty list of positive ints ('hiddens=[512,256]')"


def _widths(hiddens: Any) -> list[int] | None:
    """`hiddens` as a list of positive ints; None where it is no such thing."""
    widths = list(hiddens) if isinstance(hiddens, (list, tuple, ListConfig)) else [hiddens]
    valid = widths and all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths)
    return widths if valid else None


def hidden_widths(hiddens: Any) -> list[int]:
    """`hiddens` as a list of positive ints, or a ConfigError saying what is allowed."""
    if (widths := _widths(hiddens)) is None:
        raise ConfigError(f"hiddens={as_typed(hiddens)} is not allowed: use {HIDDENS_ALLOWED}")
    return widths


def check(
    cfg: DictConfig, unresolved_to_the_job: bool = False, set_in: Callable[[str], str | None] | None = None
) -> None:
    """Reject keys the schema does not have and values that type checks let through but no run can use.

    `unresolved_to_the_job`: skip each rule whose value does not resolve yet (`seed=${hydra:job.num}` before the
    job runs); the job's own check takes it. `set_in`: names the config file a key's value came from, if one did."""
    check_keys(cfg)
    check_resolvable(cfg, unresolved_to_the_job)
    check_values(cfg, unresolved_to_the_job, set_in)


def check_values(
    cfg: DictConfig, unresolved_to_the_job: bool = False, set_in: Callable[[str], str | None] | None = None
) -> None:
    """`check`'s rules on the values: each an interval (or a point) of the values allowed, of one key or of two."""
    # Each rule as a function of the config, so that one value that cannot be resolved yet skips only its rules.
    # `< inf` because Hydra reads lr=inf and lr=nan as floats (and nan fails every comparison).
    rules = [
        ("hiddens", lambda: _widths(cfg.hiddens) is not None, HIDDENS_ALLOWED),
        ("lr", lambda: 0 < cfg.lr < math.inf, "a positive number, e.g. lr=0.1"),
        ("init_scale", lambda: 0 <= cfg.init_scale < math.inf, "a number >= 0, e.g. init_scale=0.01"),
        ("epochs", lambda: cfg.epochs > 0, "a positive int, e.g. epochs=10"),
        ("batch_size", lambda: cfg.batch_size > 0, "a positive int, e.g. batch_size=256"),
        ("seed", lambda: -(2**63) <= cfg.seed < 2**64, "an int that fits in 64 bits, e.g. seed=1"),
        ("threads", lambda: 0 <= cfg.threads <= MAX_THREADS, f"0 (torch's default) or an int from 1 to {MAX_THREADS}"),
        ("optimizer.momentum", lambda: 0 <= cfg.optimizer.momentum < 1, "a number in [0, 1)"),
        (
            "optimizer.momentum",
            lambda: cfg.optimizer.momentum == 0 or cfg.optimizer.name is OptimizerName.sgd,
            (
                f"0 with {' or '.join(n.name for n in OptimizerName if n is not OptimizerName.sgd)}: momentum is "
                "SGD's (Adam's betas are fixed at (0.9, 0.999))"
            ),
        ),
        ("optimizer.weight_decay", lambda: 0 <= cfg.optimizer.weight_decay < math.inf, "a number >= 0"),
        (  # fewer than 6 of 60000 training images would be no measure (the three datasets have as many)
            "dataset.val_fraction",
            lambda: cfg.dataset.val_fraction == 0 or 1e-4 <= cfg.dataset.val_fraction < 1,
            "0 (none held out) or a number from 0.0001 to below 1, e.g. 0.1",
        ),
        ("visuals.every", lambda: cfg.visuals.every >= 0, "0 (figures at the end only) or a positive int"),
        # A grid of thousands of images is too big to read, for PIL (a "decompression bomb") and for TensorBoard alike.
        (
            "visuals.predictions",
            lambda: 0 < cfg.visuals.predictions <= 200,
            "an int from 1 to 200, e.g. visuals.predictions=48",
        ),
    ]
    for key, ok, allowed in rules:
        try:
            passed = ok()
        except OmegaConfBaseException:
            if not unresolved_to_the_job:
                raise
            continue
        if not passed:
            # A preset's `momentum: 1.5` reads in the composed config as if typed: the file is the place to fix it.
            where = f" (set in {file})" if set_in is not None and (file := set_in(key)) else ""
            raise ConfigError(f"{key}={as_typed(OmegaConf.select(cfg, key))}{where} is not allowed: use {allowed}")


def as_typed(value: Any) -> str:
    """A value as a user types it in an override: `null`, `true`, `[256,true]`, `''`, and a float that Hydra read
    from `lr=-1` as -1, not -1.0."""
    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value).removesuffix(".0")
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, list):
        return f"[{','.join(map(as_typed, value))}]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{key}:{as_typed(item)}" for key, item in value.items()) + "}"
    return f"'{value}'" if value == "" or _reads_as_another_type(value) else str(value)


def _reads_as_another_type(text: str) -> bool:
    """Whether Hydra reads `text`, typed as a value, as something else than that text: `256` is an int, `true` a
    bool; the string needs its quotes ('256')."""
    try:
        return OverridesParser.create().parse_override(f"key={text}").value() != text
    except HydraException:  # `a=b`, which Hydra reads as no value at all
        return False


def check_resolvable(cfg: DictConfig, unresolved_to_the_job: bool = False) -> None:
    """A value given as an interpolation that cannot be resolved (`seed=${oc.env:UNSET}`), named with its key.

    `unresolved_to_the_job`: skip values that use Hydra's own resolver (`seed=${hydra:job.num}`, or a key that
    refers to one), which only the job can resolve."""
    for key, value in _leaves(OmegaConf.to_container(cfg, resolve=False)):
        try:
            node = OmegaConf.select(cfg, key)
            if isinstance(node, (DictConfig, ListConfig)):
                OmegaConf.to_container(node, resolve=True)
        except OmegaConfBaseException as e:
            # Outside a job, Hydra's resolver fails (HydraConfig not set) or gives None (set by an earlier run of
            # this process), which the key's type refuses.
            if unresolved_to_the_job and (_HYDRAS_OWN.search(str(e)) or "${hydra:" in str(value)):
                continue
            given = as_typed(value)  # as on the command line
            if isinstance(e, InterpolationValidationError) and (wrong := _RESOLVED_TO.search(str(e))):
                raise ConfigError(  # `MY_SEED=abc`: the variable is there, its value is of the wrong kind
                    f"{key}={given} is not allowed: it resolves to {wrong[1]}; use {allowed_values(key)}"
                ) from e
            reason = re.sub(r"^\w+ raised while resolving interpolation: ", "", first_line(e)).strip("\"'")
            raise ConfigError(
                f"{key}={given} cannot be resolved ({reason}): give {key} a value, or make what it refers to exist"
            ) from e


# How OmegaConf says what an interpolation resolved to, where the key's type cannot take it.
_RESOLVED_TO = re.compile(
    r"(?:Value|Invalid value) ('.*?')(?: of type '\w+' could not be converted|, expected one of| is not a valid bool)"
)
# How OmegaConf says that `${hydra:...}` cannot be resolved outside Hydra's job: before the job (Hydra's resolver,
# without its state), or in another process (no such resolver).
_HYDRAS_OWN = re.compile(r"HydraConfig was not set|Unsupported interpolation type hydra")


def _leaves(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of each value in a nested dict that is not itself a dict."""
    for key, value in node.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


# More threads than any machine mlp_exp runs on has cores: tens of thousands crash the process in libgomp, with a
# run dir and no records.
MAX_THREADS = 1024
# What `python -m mlp_exp.resume --device/--threads RUN_DIR` writes into the run's saved config, to go on so.
RESUME_REWRITES = ("device", "threads")


def check_keys(cfg: DictConfig) -> None:
    """Keys the schema lacks, keys it needs but the config lacks, and keys left without a value: no run can start."""
    _check_keys(cfg, Config)


def _check_keys(node: DictConfig, schema: type, prefix: str = "") -> None:
    fields = get_type_hints(schema)
    unknown = sorted(node.keys() - fields.keys())
    if unknown:
        raise ConfigError(unknown_key_message(prefix + unknown[0], node[unknown[0]]))
    missing = sorted(fields.keys() - node.keys())
    if missing:
        raise ConfigError(
            f"{prefix}{missing[0]} is missing: every run needs it; drop the ~{prefix}{missing[0]} override"
        )
    # `~optimizer` or `hiddens=???` on the command line, or a key that a dataset option of the user's own leaves out
    unset = [key for key in fields if OmegaConf.is_missing(node, key)]
    if unset:
        key = prefix + unset[0]
        group = dataclasses.is_dataclass(fields[unset[0]])
        fix = (
            f"choose one of its options: {key}=OPTION (`python -m mlp_exp --help` lists them)"
            if group
            else f"set it: {key}=VALUE"
        )
        raise ConfigError(f"{key} has no value: {fix}")
    for key, field_type in fields.items():
        if dataclasses.is_dataclass(field_type):
            _check_keys(node[key], field_type, f"{prefix}{key}.")


def schema_keys(schema: type = Config, prefix: str = "") -> list[str]:
    """Every dotted key a config has: hiddens, lr, ..., dataset.root, ..., optimizer.momentum, ..."""
    keys = []
    for key, field_type in get_type_hints(schema).items():
        nested = dataclasses.is_dataclass(field_type)
        keys += schema_keys(field_type, f"{prefix}{key}.") if nested else [f"{prefix}{key}"]
    return keys


def nested_keys(schema: type = Config) -> list[str]:
    """The keys that hold keys of their own: dataset, optimizer, visuals."""
    return [key for key, field_type in get_type_hints(schema).items() if dataclasses.is_dataclass(field_type)]


def _schema_type(key: str) -> Any:
    """The schema's type for a dotted key: float for lr, OptimizerName for optimizer.name."""
    kind: Any = Config
    for part in key.split("."):
        kind = get_type_hints(kind)[part]
    return kind


def _takes(key: str, value: Any) -> bool:
    """Whether `value` names one of the options of a key whose type lists them (adam for optimizer.name)."""
    kind = _schema_type(key)
    return isinstance(kind, type) and issubclass(kind, Enum) and str(value) in kind.__members__


def allowed_values(key: str) -> str:
    """What the schema's type for a dotted key allows, in words: `a number`, `one of relu, sigmoid, ...`."""
    kind = _schema_type(key)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return "one of " + ", ".join(member.name for member in kind)
    words = {
        float: "a number",
        int: "an int",
        bool: "true or false",
        str | None: "a path, or null",
        list[str]: "a list",
    }
    return words.get(kind, f"a value of type {kind}")


# conf/'s groups, whose options a command line chooses (`optimizer=momentum`), as against values of keys.
CONFIG_GROUPS = ("dataset", "optimizer", "experiment", "sweep", "hparams_search")


def unknown_key_message(key: str, value: Any = None) -> str:
    """`hiddenz=5 is not allowed: mlp_exp has no key hiddenz; did you mean hiddens? ...`. `value`: as typed, or as
    a config file has it."""
    # Matched on the last part, so `momentum=0.9` suggests optimizer.momentum; `optimzer=sgd`, the group. A dotted
    # key among the keys of its own prefix first: `optimizer.nam` means optimizer.name, not dataset.name; of keys
    # that share the last part, the one the value is an option of: `nme=adam` means optimizer.name.
    prefix, _, last = key.rpartition(".")
    known_keys = [*schema_keys(), *CONFIG_GROUPS, *nested_keys()]
    suggestion = ""
    own_prefix = [known for known in known_keys if prefix and known.rpartition(".")[0] == prefix]
    for keys in (own_prefix, known_keys):
        names = {known: known.rpartition(".")[2].lower() for known in keys}  # `Lr` is lr
        # A misspelling (`epocs`), or a name's start or end (`batch`, `decay`); not a word that shares some letters
        # (`dropout` is no `root`).
        word = last.lower()
        close = difflib.get_close_matches(word, names.values(), n=1, cutoff=0.75) or [
            name for name in names.values() if len(word) >= 3 and (name.startswith(word) or name.endswith(word))
        ]
        if close:
            alike = [known for known, name in names.items() if name == close[0]]
            meant = next((known for known in alike if known not in CONFIG_GROUPS and _takes(known, value)), alike[0])
            suggestion = f"; did you mean {meant}?"
            break
    # Text is the value as the command line typed it, which as_typed would quote where it reads as a number.
    typed = key if value is None else f"{key}={value if isinstance(value, str) else as_typed(value)}"
    return (
        f"{typed} is not allowed: mlp_exp has no key {key}{suggestion} (`python -m mlp_exp --cfg job` lists them all)"
    )


def optimizer_rule(name: OptimizerName, momentum: float) -> str:
    """The optimizer's name, or `momentum` for SGD with momentum."""
    return "momentum" if name is OptimizerName.sgd and momentum else name.name


def with_optimizer_rule(hparams: dict[str, Any]) -> dict[str, Any]:
    """`hparams` with SGD with momentum named `momentum`, as flat_hparams names it: for the knobs a job's overrides
    give (optimizer=sgd optimizer.momentum=0.9), and a run's records from before optimizer_rule (2 December 2026)."""
    if hparams.get("optimizer") == OptimizerName.sgd.name:
        return {**hparams, "optimizer": optimizer_rule(OptimizerName.sgd, hparams.get("momentum") or 0.0)}
    return hparams


# flat_hparams' keys that restate hiddens, as numbers.
RESTATING_HIDDENS = ("depth", "width")


def schema_default(key: str) -> Any:
    """The schema's default for dotted `key` (0.0 for dataset.val_fraction; a choice by its name), None where it has
    none (dataset.name, a key it does not have)."""
    parent, _, leaf = key.rpartition(".")
    try:
        kind = _schema_type(parent) if parent else Config
        default = {knob.name: knob.default for knob in dataclasses.fields(kind)}[leaf]
    except (KeyError, TypeError):  # not a key of the schema, or below one that holds no keys
        return None
    if default is dataclasses.MISSING or default == MISSING:
        return None
    return default.name if isinstance(default, Enum) else default


def knob_default(key: str) -> Any:
    """The schema's default of a knob flat_hparams records by its key's last part (lr, momentum, val_fraction), as
    it records it; None where the schema has none (dataset). hiddens is the schema's int, not flat_hparams' text."""
    return schema_default(next((known for known in schema_keys() if known.rpartition(".")[2] == key), key))


def flat_hparams(cfg: DictConfig) -> dict[str, int | float | str | bool]:
    """The run's knobs as one flat dict of scalars, the same keys in every run (TensorBoard's HParams needs that).

    `hiddens` is text, as it may list several widths ("512-256"); `depth` and `width` (the widest hidden layer) restate
    it as numbers, which TensorBoard's HParams sorts and plots as numbers (it puts "1024" before "128").
    `optimizer` names the update rule as conf/optimizer/'s options do: SGD with momentum is `momentum`, not `sgd`.
    """
    widths = hidden_widths(cfg.hiddens)
    return {
        "hiddens": "-".join(map(str, widths)),
        "depth": len(widths),
        "width": max(widths),
        "lr": float(cfg.lr),
        "init_scale": float(cfg.init_scale),
        "activation": cfg.activation.name,
        "optimizer": optimizer_rule(cfg.optimizer.name, cfg.optimizer.momentum),
        "momentum": float(cfg.optimizer.momentum),
        "weight_decay": float(cfg.optimizer.weight_decay),
        "batch_size": int(cfg.batch_size),
        "epochs": int(cfg.epochs),
        "dataset": cfg.dataset.name.name,
        "val_fraction": float(cfg.dataset.val_fraction),
        "seed": int(cfg.seed),
    }

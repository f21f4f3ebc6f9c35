"""The config schema: every knob, its type and its default, checked by Hydra before a run starts.

`conf/config.yaml` extends `Config` (stored in Hydra's ConfigStore as `mlp_exp_schema`), so an override
of the wrong type (`lr=abc`, `epochs=1.5`, `activation=ReLU`) fails while composing, and the YAML files
only choose values. Checks that a type cannot express (positive widths, ...) live in `check`.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import filecmp
import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, get_type_hints

from hydra import initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf, open_dict
from omegaconf.errors import InterpolationValidationError, OmegaConfBaseException

from mlp_exp.exits import OneLineError

# Absolute, so the console script and `python -m` find the same configs (a relative path does not: hydra#2125).
# A wheel has them inside the package (pyproject.toml); a clone, or an editable install of one, beside it.
_PACKAGE_DIR = Path(__file__).resolve().parent
INSTALLED = (_PACKAGE_DIR / "conf").is_dir()
CONF_DIR = _PACKAGE_DIR / "conf" if INSTALLED else _PACKAGE_DIR.parent / "conf"

log = logging.getLogger("mlp_exp")

# The config groups whose presets set up a sweep of their own (hydra.mode: MULTIRUN).
SWEEP_PRESETS = ("sweep", "hparams_search")


class ConfigError(OneLineError, ValueError):
    """A config value the user chose that cannot run; the message names the key, the value and the fix."""


def cannot_use(directory: Path, e: OSError, key: str) -> ConfigError:
    """A run's or sweep's dir that cannot be made or written (`hydra.run.dir=/proc/x`), and the key to change."""
    # mkdir's own word for a file there is "File exists"; isfile, unlike Path.is_file, never raises.
    why = "it is a file" if isinstance(e, FileExistsError) and os.path.isfile(directory) else e.strerror or e
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


def hidden_widths(hiddens: Any) -> list[int]:
    """`hiddens` as a list of positive ints, or a ConfigError saying what is allowed."""
    widths = list(hiddens) if isinstance(hiddens, (list, tuple, ListConfig)) else [hiddens]
    if not widths or not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths):
        raise ConfigError(
            f"hiddens={as_typed(hiddens)} is not allowed: use a positive int (hiddens=256) "
            "or a non-empty list of positive ints ('hiddens=[512,256]')"
        )
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
        ("hiddens", lambda: bool(hidden_widths(cfg.hiddens)), ""),  # raises its own ConfigError
        ("lr", lambda: 0 < cfg.lr < math.inf, "a positive number, e.g. lr=0.1"),
        ("init_scale", lambda: 0 <= cfg.init_scale < math.inf, "a number >= 0, e.g. init_scale=0.01"),
        ("epochs", lambda: cfg.epochs > 0, "a positive int, e.g. epochs=10"),
        ("batch_size", lambda: cfg.batch_size > 0, "a positive int, e.g. batch_size=256"),
        ("seed", lambda: -(2**63) <= cfg.seed < 2**64, "an int that fits in 64 bits, e.g. seed=1"),
        ("threads", lambda: cfg.threads >= 0, "0 (torch's default) or a positive int"),
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
    return "''" if value == "" else str(value)


def given_overrides(hydra: DictConfig) -> dict[str, list[str]]:
    """The command line's overrides as typed ({"task": [...], "hydra": [...]}): read through OmegaConf, one holding
    an interpolation (`seed=${hydra:job.num}`) would be resolved, and fail where HydraConfig is not set yet."""
    given = OmegaConf.to_container(hydra.overrides, resolve=False)
    return {kind: [str(override) for override in given.get(kind) or []] for kind in ("task", "hydra")}


def check_overrides(hydra: DictConfig) -> None:
    """The command line's overrides (as `hydra` records them) that compose, but would not do what they say."""
    given = given_overrides(hydra)
    overrides = OverridesParser.create().parse_overrides([*given["task"], *given["hydra"]])
    presets = {o.key_or_group: o.input_line for o in overrides if o.key_or_group in SWEEP_PRESETS}
    if len(presets) == 2:  # Hydra merges the search's space over the sweep's values
        raise ConfigError(
            f"{presets['sweep']} is not allowed with {presets['hparams_search']}: the search's space would replace "
            "the sweep's values; run one of them"
        )
    for override in overrides:
        key = override.key_or_group
        # Each of these presets sets up a sweep; swept over, each job would get the preset but not its sweep.
        if key in SWEEP_PRESETS and override.is_sweep_override():
            raise ConfigError(presets_swept(override.input_line, key))
        if key in ("hydra.run.dir", "hydra.sweep.dir") and not str(override.value()).strip():
            raise ConfigError(
                f"{override.input_line} is not allowed: it would write into the working dir; give a dir, or leave it out"
            )
    if hydra.output_subdir != ".hydra":  # where resume and compare find a run's config
        raise ConfigError(
            f"hydra.output_subdir={as_typed(hydra.output_subdir)} is not allowed: mlp_exp resumes and compares a run "
            "from the config Hydra saves in its .hydra/ dir; leave it out"
        )


def presets_swept(override: str, group: str) -> str:
    """Why `sweep=widths,lrs` cannot run, with -m or without: each job would get the preset but not its sweep."""
    return f"{override} is not allowed: each {group} preset is a sweep of its own; run one at a time"


def say_shadowed_files(hydra: DictConfig) -> None:
    """A warning naming the user's config files (in --config-dir, or hydra.searchpath) that Hydra never reads: mlp_exp's
    own conf/, before them in the search path, has files of the same names (a copy of optimizer/sgd.yaml, edited).
    Not with --config-path, which replaces conf/; not for a file the same as mlp_exp's."""
    folders = [Path(s.path).resolve() for s in hydra.runtime.config_sources if s.schema == "file"]
    own = CONF_DIR.resolve()
    if own not in folders:
        return
    names = sorted(path.relative_to(own) for path in own.rglob("*.yaml"))
    shadowed = [
        (folder, name)
        for folder in folders[folders.index(own) + 1 :]
        for name in names
        if folder != own and (folder / name).is_file() and not filecmp.cmp(folder / name, own / name, shallow=False)
    ]
    if not shadowed:
        return
    files = [folder / name for folder, name in shadowed]
    first = shadowed[0][1]
    rename = f"{first.parent.as_posix()}=my_{first.stem}" if first.parent != Path(".") else "--config-name my_config"
    named = ", ".join(map(str, files[:3])) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    log.warning(
        "%s %s not read: mlp_exp's own conf/ comes first in the search path and has files of the same names; give "
        "yours other names (%s)",
        named,
        "is" if len(files) == 1 else "are",
        rename,
    )


def check_single_run(hydra: DictConfig) -> None:
    """A sweep or search preset that would run as one default run: one of the user's own, without `hydra: mode:
    MULTIRUN`."""
    for group in SWEEP_PRESETS:
        option = hydra.runtime.choices.get(group)
        if option not in (None, "null"):
            raise ConfigError(
                f"{group}={option} is not allowed in a single run: run it with -m, or set `hydra: mode: MULTIRUN` "
                f"in the preset, as those of conf/{group}/ do"
            )


def check_dataset_option(cfg: DictConfig, option: str) -> None:
    """A dataset's option (dataset=mnist) sets its files (system_dir) and class names along with its name: a name
    changed apart from it (on the command line, in a preset, by a sweeper) would train on the option's files under
    the other name. An option of the user's own (a --config-dir's dataset/my_copy.yaml) may name any
    of DatasetName's."""
    if OmegaConf.is_missing(cfg.dataset, "name"):  # `dataset.name=???`: `check` names it
        return
    name = cfg.dataset.name.name
    if option in DatasetName.__members__ and name != option:
        raise ConfigError(
            f"dataset.name={name} is not allowed with dataset={option}, whose files and class names it would keep; "
            f"choose the dataset by its option: dataset={name}"
        )


def task_config(config: DictConfig) -> DictConfig:
    """The config a run gets, from the one a Hydra callback gets, which holds Hydra's own (`hydra`) too. Typed as
    the schema says, as the run's is: `seed=${oc.env:MY_SEED}` reads as the int 5, not the string '5'."""
    cfg = copy.deepcopy(config)  # its nodes keep their types, where OmegaConf.masked_copy's would not; a shallow
    # copy would lose `hydra` from `config` too
    OmegaConf.set_readonly(cfg, False)
    with open_dict(cfg):
        cfg.pop("hydra", None)
    return cfg


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


# What `python -m mlp_exp.resume --device/--threads RUN_DIR` writes into the run's saved config, to go on so.
RESUME_REWRITES = ("device", "threads")


def check_before_the_job(
    config: DictConfig, swept: frozenset[str] = frozenset(), dataset_option: str | None = None
) -> None:
    """`check` (and `check_dataset_option`, given the option) on the config a Hydra callback gets, before the job
    has a dir or a process of its own; raises ConfigError. What only the job can tell is left to its own check: a
    value that resolves only inside it (`seed=${hydra:job.num}`), and a key without a value that a sweep sets
    (`swept`: its swept keys)."""
    cfg = task_config(config)
    if any(_unset(cfg, key) for key in swept):
        return
    check(cfg, unresolved_to_the_job=True, set_in=lambda key: file_that_set(config, key))
    if dataset_option is not None:
        with suppress(OmegaConfBaseException):  # a dataset.name that resolves only in the job
            check_dataset_option(cfg, dataset_option)


def file_that_set(config: DictConfig, key: str) -> str | None:
    """The config file of the user's own (a --config-dir's, hydra.searchpath's) whose value of dotted `key` the
    composed `config` (a Hydra callback's) holds: the last in its defaults list to set it. None where an override on
    the command line set it or a dict above it (the user knows where), or no such file did (mlp_exp's own conf/, the
    schema's default)."""
    given = given_overrides(config.hydra)
    overrides = OverridesParser.create().parse_overrides([*given["task"], *given["hydra"]])
    set_above = (o.key_or_group for o in overrides if o.key_or_group not in CONFIG_GROUPS)  # `visuals={every:-1}`
    if any(key == o.key_or_group for o in overrides) or any(key.startswith(f"{above}.") for above in set_above):
        return None
    loader = GlobalHydra.instance().config_loader()
    fixed = [o.input_line for o in overrides if not o.is_sweep_override()]  # a swept group: the job names its file
    folders = [Path(source.path) for source in config.hydra.runtime.config_sources if source.schema == "file"]
    found = None
    for default in loader.compute_defaults_list(config.hydra.job.config_name, fixed, RunMode.RUN).defaults:
        package = default.package or ""
        if default.config_path is None or (package and not key.startswith(f"{package}.")):
            continue
        # Where Hydra found it: the first folder of the search path that has it.
        file = next(
            (f / f"{default.config_path}.yaml" for f in folders if (f / f"{default.config_path}.yaml").is_file()), None
        )
        if file is None or file.resolve().is_relative_to(CONF_DIR.resolve()):
            continue
        if OmegaConf.select(OmegaConf.load(file), key.removeprefix(f"{package}."), default=_ABSENT) is not _ABSENT:
            found = str(file)
    return found


_ABSENT = object()


def check_swept_values(config: DictConfig, key: str, values: Iterable[Any], set_by_the_job: set[str]) -> None:
    """`check_values` of each of the values a sweep gives dotted `key`, set into the sweep's config (the one a Hydra
    callback gets), ~1 ms a value. The keys in `set_by_the_job` (those the sweep's other overrides set) are left
    without a value, so that a rule that reads one of them (momentum's, which reads the optimizer's name) is left to
    the job: the sweep's config holds none of their values."""
    cfg = _without(task_config(config), set_by_the_job - {key})
    for value in values:
        try:
            OmegaConf.update(cfg, key, value)
        except OmegaConfBaseException:  # of a type the key does not take: Hydra says so in its job
            continue
        check_values(cfg, unresolved_to_the_job=True)


def check_values_left(composed: DictConfig, set_by_the_job: set[str]) -> None:
    """`check_values` of a job's config, composed with Hydra's (which names the file of the user's own a value came
    from), but for the keys in `set_by_the_job`, which are left to the job."""
    cfg = _without(task_config(composed), set_by_the_job)
    check_values(cfg, unresolved_to_the_job=True, set_in=lambda key: file_that_set(composed, key))


def _without(cfg: DictConfig, keys: set[str]) -> DictConfig:
    """`cfg` with `keys` left without a value: a rule that reads one of them is skipped."""
    for key in keys:
        OmegaConf.update(cfg, key, MISSING)
    return cfg


def _unset(cfg: DictConfig, key: str) -> bool:
    """Whether dotted `key` is there without a value (`???`), found without resolving anything."""
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent, throw_on_resolution_failure=False) if parent else cfg
    # `in` on a DictConfig says False for a key whose value is `???`: hence keys()
    return isinstance(node, DictConfig) and leaf in list(node.keys()) and OmegaConf.is_missing(node, leaf)


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


def misused_override(overrides: list[str], repeats_allowed: bool = False) -> str | None:
    """Why an override is refused where Hydra would do something else than it says, or say it in terms of a
    defaults list; None where none is.
    - A list of a group's options (`dataset=[fashion_mnist,mnist]`): Hydra merges them into one config, the later
      option's values over the earlier's (mnist's name with fashion_mnist's files).
    - A `+` on a group (`+experiment=deeper`, Hydra's idiom for a group with no default): each group here has a
      place in conf/config.yaml's defaults, and Hydra says "Multiple values for experiment" and how to edit a
      defaults list.
    - A key given twice (`epochs=2 epochs=1`): Hydra takes the last, and the run dir's name would show both. Not
      a deletion (Hydra's `~key +key=...` replaces a node), nor in a resumed sweep's command (`repeats_allowed`),
      which runs again as it was recorded (Hydra adds its own hydra.mode=MULTIRUN after a typed one).
    Overrides that do not parse are left to Hydra to name."""
    parser = OverridesParser.create()
    given: dict[tuple[str, str | None], str] = {}  # (key, package) -> the override that gave it
    for line in overrides:  # one at a time, so that one that does not parse leaves the others checked
        with suppress(Exception):  # any of the parser's errors: Hydra says what is wrong with the override
            (override,) = parser.parse_overrides([line])
            group, options = override.key_or_group, override.value()
            if (first := given.get((group, override.package))) is not None and not repeats_allowed:
                return f"{first} {line} is not allowed: {group} is given twice, and only the last would count; give it once"
            if not override.is_delete():
                given[group, override.package] = line
            if override.is_add() and group in CONFIG_GROUPS:
                return (
                    f"{line} is not allowed: {group} is in conf/config.yaml's defaults already; "
                    f"choose its option without the +: {line.removeprefix('+')}"
                )
            if group in CONFIG_GROUPS and isinstance(options, list) and len(options) > 1:
                return (
                    f"{line} is not allowed: a run takes one {group} option, and Hydra would merge these into one; "
                    f"choose one, or sweep over them: -m {group}={','.join(map(str, options))}"
                )
    return None


def unknown_key_message(key: str, value: Any = None) -> str:
    """`hiddenz=5 is not allowed: mlp_exp has no key hiddenz; did you mean hiddens? ...`"""
    # Matched on the last part, so `momentum=0.9` suggests optimizer.momentum; `optimzer=sgd`, the group. A dotted
    # key among the keys of its own prefix first: `optimizer.nam` means optimizer.name, not dataset.name; of keys
    # that share the last part, the one the value is an option of: `nme=adam` means optimizer.name.
    prefix, _, last = key.rpartition(".")
    known_keys = [*schema_keys(), *CONFIG_GROUPS, *nested_keys()]
    suggestion = ""
    own_prefix = [known for known in known_keys if prefix and known.rpartition(".")[0] == prefix]
    for keys in (own_prefix, known_keys):
        names = {known: known.rpartition(".")[2].lower() for known in keys}  # `Lr` is lr
        if close := difflib.get_close_matches(last.lower(), names.values(), n=1):
            alike = [known for known, name in names.items() if name == close[0]]
            meant = next((known for known in alike if known not in CONFIG_GROUPS and _takes(known, value)), alike[0])
            suggestion = f"; did you mean {meant}?"
            break
    typed = key if value is None else f"{key}={as_typed(value)}"
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
        "seed": int(cfg.seed),
    }

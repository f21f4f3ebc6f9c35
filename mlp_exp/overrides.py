"""The command line as Hydra records it, checked in Hydra's callbacks before a job has a dir or a process of its
own: overrides that compose but would not do what they say, the config each job would get checked as its run
checks it, and the file of the user's own that set a refused value."""

from __future__ import annotations

import copy
import filecmp
import logging
import re
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import Any

from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import MISSING, DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from mlp_exp.config import (
    CONF_DIR,
    CONFIG_GROUPS,
    SWEEP_PRESETS,
    ConfigError,
    DatasetName,
    as_typed,
    check,
    check_values,
)

log = logging.getLogger("mlp_exp")


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
        if key == "hydra.sweep.subdir" and hydra.mode == RunMode.MULTIRUN and "${" not in str(override.value()):
            raise ConfigError(
                f"{override.input_line} is not allowed: every job of the sweep would train in that one dir; name "
                "each job's dir after it, e.g. 'hydra.sweep.subdir=${hydra.job.num}', or leave it out"
            )
    if hydra.output_subdir != ".hydra":  # where resume and compare find a run's config
        raise ConfigError(
            f"hydra.output_subdir={as_typed(hydra.output_subdir)} is not allowed: mlp_exp resumes and compares a run "
            "from the config Hydra saves in its .hydra/ dir; leave it out"
        )


def presets_swept(override: str, group: str) -> str:
    """Why `sweep=widths,lrs` cannot run, with -m or without: each job would get the preset but not its sweep."""
    return f"{override} is not allowed: each {group} preset is a sweep of its own; run one at a time"


def config_folders(hydra: DictConfig) -> list[Path]:
    """The folders Hydra looks for config files in, in its order: mlp_exp's conf/ and the user's own (--config-dir,
    hydra.searchpath), or --config-path's in place of conf/."""
    return [Path(source.path) for source in hydra.runtime.config_sources if source.schema == "file"]


def config_file(hydra: DictConfig, name: str) -> Path | None:
    """The file of config `name` (`experiment/deeper`) that Hydra reads: in the first folder of its search path that
    has one."""
    return next((file for folder in config_folders(hydra) if (file := folder / f"{name}.yaml").is_file()), None)


def say_shadowed_files(hydra: DictConfig) -> None:
    """A warning naming the user's config files (in --config-dir, or hydra.searchpath) that Hydra never reads: mlp_exp's
    own conf/, before them in the search path, has files of the same names (a copy of optimizer/sgd.yaml, edited).
    Not with --config-path, which replaces conf/; not for a file the same as mlp_exp's."""
    folders = [folder.resolve() for folder in config_folders(hydra)]
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
    MULTIRUN`; and a sweep's setting (`hydra/launcher=joblib`, `hydra.sweeper.max_batch_size=10`), which a single
    run, run by no launcher or sweeper, would ignore."""
    for override in given_overrides(hydra)["hydra"]:
        if re.match(r"\+*hydra[./](launcher|sweeper|sweep)\b", override):
            run_dir = override.replace("hydra.sweep.dir=", "hydra.run.dir=", 1) if "sweep.dir=" in override else ""
            raise ConfigError(
                f"{override} is not allowed in a single run, which it would not change: add -m to sweep"
                + (f", or give the run's dir: {run_dir}" if run_dir else "")
            )
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
    found = None
    for default in loader.compute_defaults_list(config.hydra.job.config_name, fixed, RunMode.RUN).defaults:
        package = default.package or ""
        if default.config_path is None or (package and not key.startswith(f"{package}.")):
            continue
        file = config_file(config.hydra, default.config_path)
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
    - No key (`=0.1`; a shell variable `$KNOB=0.1` that is not set).
    - A sweep's or search's values set in hydra.sweeper.params (`hydra.sweeper.params.lr=0.01,0.1`).
    Overrides that do not parse are left to Hydra to name."""
    parser = OverridesParser.create()
    given: dict[tuple[str, str | None], str] = {}  # (key, package) -> the override that gave it
    for line in overrides:  # one at a time, so that one that does not parse leaves the others checked
        if line.lstrip("+~").startswith("="):  # Hydra reads it as a group's option, or a key '' no defaults list has
            return f"{line} is not allowed: it names no key; write key=value, e.g. lr=0.1"
        if (param := re.match(r"\+*hydra\.sweeper\.params\.([\w.]+=.*)", line)) is not None:
            # Hydra fails on it with a traceback (the basic sweeper's params are null) or calls a swept value
            # "sweeping over Hydra's configuration"; on the command line, a knob's values replace the preset's.
            return f"{line} is not allowed: give the knob's values on the command line as they are: {param[1]}"
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

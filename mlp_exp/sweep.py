"""What a sweep needs around its jobs: a sweep dir of its own, their data prepared once before they start, a fair
share of the CPU cores for each job, and a comparison of the jobs when they are done.

`SweepCallback` is listed under `hydra.callbacks` in conf/config.yaml, so Hydra calls it in every multirun,
whatever the sweeper (basic, Optuna) and the launcher (basic, joblib, submitit).
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import os
import shutil
from collections import Counter
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from hydra import compose
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_loader import ConfigLoader
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, ValueType
from hydra.errors import HydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from mlp_exp import interrupt
from mlp_exp.config import (
    RESUME_REWRITES,
    SWEEP_PRESETS,
    ConfigError,
    as_typed,
    cannot_use,
    nested_keys,
    schema_default,
    schema_keys,
    unknown_key_message,
)
from mlp_exp.cores import available
from mlp_exp.exits import ends_the_command, fail
from mlp_exp.files import atomic_write, compare_command
from mlp_exp.lock import WAIT_THEN_RESUME, only_process_in
from mlp_exp.overrides import (
    check_before_the_job,
    check_overrides,
    check_swept_values,
    check_values_left,
    config_file,
    given_overrides,
    say_shadowed_files,
)
from mlp_exp.records import RUN_CONFIG, SWEEP_FILE, Status, holds_a_run
from mlp_exp.run_dirs import refuse_inside_a_run, refuse_used_sweep_dir

log = logging.getLogger("mlp_exp")

# The most values of a swept knob checked one by one before the sweep starts (~1 ms each); of more, the ends.
CHECKED_VALUES = 10_000
# How long Hydra's basic sweeper takes to compose one job's config, which it does for all before the first job.
COMPOSE_S = 0.07
# A wait for them longer than this is said (`say_jobs_composed_first`).
SAID_WAIT_S = 10
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
JOBLIB_LAUNCHER = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
OPTUNA_DIRECTIONS = ("maximize", "minimize")
OPTUNA_GRID_SAMPLER = "optuna.samplers.GridSampler"
OPTUNA_SWEEPER = "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
OPTUNA_NO_TRIAL_COMPLETED = "No trials are completed yet."  # optuna.storages' error
SLURM_LAUNCHER = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
SUBMITIT_LOCAL_LAUNCHER = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"
# Set by `python -m mlp_exp.resume SWEEP_DIR` to the sweep dir it runs the sweep again in: an environment variable
# reaches each job wherever the launcher runs it (this process, joblib's workers, a Slurm job, which gets the
# environment it is submitted with unless the cluster's sbatch is set to export none).
RESUMING = "MLP_EXP_RESUMING_SWEEP"


def absolute_sweep_dir(hydra: DictConfig) -> Path:
    """The sweep dir as an absolute path: the commands that name it then paste anywhere."""
    return Path(os.path.abspath(hydra.sweep.dir))


def resuming(sweep_dir: Path) -> bool:
    """Whether the sweep in `sweep_dir` is an earlier one run again there by `python -m mlp_exp.resume`."""
    return os.environ.get(RESUMING) == str(sweep_dir)


def resuming_job(job_dir: Path, sweep_dir: Path) -> bool:
    """Whether this job of a sweep goes on from what it did before: its sweep is resumed, and it had started (its
    dir holds a run). A job that never started runs as a new one."""
    return resuming(sweep_dir) and holds_a_run(job_dir)


def refuse_changed_sweep(sweep_dir: Path, config: DictConfig) -> None:
    """A resumed sweep must run the jobs it ran before. Composed again from a conf/ that changed since, they would
    differ, and Hydra would write their new configs over the old ones in the job dirs before any job could tell."""
    path = sweep_dir / SWEEP_FILE
    _refuse_changed(_what_jobs_are_made_of(OmegaConf.load(path)), _what_jobs_are_made_of(config), sweep_dir, path)


def refuse_changed_jobs(sweep_dir: Path, config: DictConfig, config_name: str) -> None:
    """What `refuse_changed_sweep` cannot see: Hydra leaves the options of a swept group out of the sweep's config
    (`optimizer=sgd,momentum`, a search's `optimizer: choice(sgd, adam)`), so a change to one of their files is seen
    only in the jobs made of them. One job that started with each choice of the swept groups is composed again from
    its overrides (~65 ms) and compared with the config it saved, but for the keys `resume --device/--threads` of
    that job alone wrote there. Only where a group is swept: otherwise the sweep's config is what its jobs are made
    of."""
    overrides = sweep_overrides(config)
    groups = {
        o.key_or_group
        for o in overrides
        if o.is_sweep_override() and _group_options(o.key_or_group, config, config_name)
    }
    if not groups:
        return
    parser, seen = OverridesParser.create(), set()
    for saved in sorted(sweep_dir.glob(f"*/{RUN_CONFIG}")):
        try:
            before = OmegaConf.to_container(OmegaConf.load(saved), resolve=False)
            job_overrides = [str(o) for o in OmegaConf.load(saved.parent / "overrides.yaml")]
            choices = tuple(o.input_line for o in parser.parse_overrides(job_overrides) if o.key_or_group in groups)
        except (OSError, ValueError, yaml.YAMLError, OmegaConfBaseException, HydraException):  # Hydra writes anew
            continue
        if choices in seen:
            continue
        seen.add(choices)
        now = compose(config_name, overrides=[*search_path(config), *job_overrides])
        now = OmegaConf.to_container(now, resolve=False, enum_to_str=True)
        for key in RESUME_REWRITES:
            before.pop(key, None)
            now.pop(key, None)
        _refuse_changed(before, now, sweep_dir, saved)


def _refuse_changed(before: dict[str, Any], now: dict[str, Any], sweep_dir: Path, path: Path) -> None:
    """ConfigError naming the keys whose values differ between `before` (as `path` records it) and `now`."""
    changed = sorted(_differing_keys(before, now))
    if changed:
        differ = f"{changed[0]} differs" if len(changed) == 1 else f"{', '.join(changed)} differ"
        raise ConfigError(
            f"the config changed since the sweep in {sweep_dir} started ({differ} from {path}): "
            "undo the change to resume it, or start a new sweep"
        )


def _differing_keys(before: Any, now: Any, prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two nested dicts (the whole key where one is not a dict). A knob
    mlp_exp added since `before` was saved, which `now` has at its default, is what the jobs had: not a change."""
    if not isinstance(before, dict) or not isinstance(now, dict):
        return [] if before == now else [prefix]
    keys = []
    for k in before.keys() | now.keys():
        key = f"{prefix}.{k}" if prefix else k
        if k not in before and now[k] is not None and now[k] == schema_default(key):
            continue
        keys += _differing_keys(before.get(k), now.get(k), key)
    return keys


def refuse_renamed_jobs(sweep_dir: Path) -> None:
    """A resumed job goes on in the dir its name leads to. A job dir that mlp_exp now names otherwise (an earlier
    version named it) would be passed by, and its job trained again from the start in a second dir."""
    for hydra_file in sorted(sweep_dir.glob("*/.hydra/hydra.yaml")):
        job_dir = hydra_file.parent.parent
        try:
            name = OmegaConf.load(hydra_file).hydra.sweep.subdir
        except (OSError, ValueError, yaml.YAMLError, OmegaConfBaseException):  # Hydra writes it anew for its job
            continue
        if name != job_dir.name:
            raise ConfigError(
                f"{job_dir} is now named {name} by mlp_exp: rename the dir to resume the sweep, or start a new sweep"
            )


def _what_jobs_are_made_of(config: DictConfig) -> dict[str, Any]:
    """The config outside `hydra`, and the sweeper's params (Optuna's search space): each job is composed from them."""
    container = OmegaConf.to_container(config, resolve=False, enum_to_str=True)
    hydra = container.pop("hydra", {})
    return {**container, "hydra.sweeper.params": hydra.get("sweeper", {}).get("params")}


class SweepCallback(Callback):
    # The sweep this process runs, for `report_failed_sweep` and cli.main's Ctrl-C line.
    sweep_dir: Path | None = None
    # Whether its jobs were submitted to Slurm: a Ctrl-C here then leaves them running on the cluster.
    on_slurm = False
    # Whether all its jobs have ended, each with its records: a Ctrl-C in the comparison after them interrupts none.
    completed = False
    # The sweep dir's lock, while this process runs its jobs; cli.main releases it however the sweep ends. On the
    # class: the joblib launcher pickles the callbacks for its workers, and a held lock cannot be pickled.
    hold = contextlib.ExitStack()

    @ends_the_command
    def on_multirun_start(self, config: DictConfig, config_name: str, **kwargs: Any) -> None:
        # Before torch's import, which the rest needs: a refused override is said at once, not after ~2 s.
        say_shadowed_files(config.hydra)
        check_overrides(config.hydra)
        # What every job would be refused for (`~optimizer`, `epochs=0`), and the swept values some job would be
        # refused for (`hiddens=64,0`) or Hydra could not compose, before the data is read and a dir is made.
        swept = frozenset(o.key_or_group for o in sweep_overrides(config) if o.is_sweep_override())
        check_before_the_job(config, swept)
        refuse_uncomposable_values(config, config_name)
        if not resuming(absolute_sweep_dir(config.hydra)):  # a sweep started before these were refused goes on
            refuse_unusable_values(config, config_name)
        refuse_optuna_grid(config)
        refuse_searched_seed(config)
        refuse_unsearchable(config)
        refuse_interval_in_a_plain_sweep(config)
        refuse_unseeded_sampler(config)
        refuse_slurm_without_slurm(config)
        refuse_no_jobs(config)
        interrupt.import_torch()
        from mlp_exp.advice import say_threads_beside_jobs
        from mlp_exp.data import load

        sweep_dir = absolute_sweep_dir(config.hydra)
        resumed = resuming(sweep_dir)
        if _searched(config):
            log_optuna_as_hydra()
        # Jobs running side by side would each unpack or download a missing dataset into the same files
        # (pytorch/pytorch#68320). Prepared here, before any job starts, the jobs only read the finished cache.
        for dataset in sweep_datasets(config, config_name):
            load(dataset)  # and its class names checked
        try:
            if not resumed:
                refuse_inside_a_run(sweep_dir, "hydra.sweep.dir")
            sweep_dir.mkdir(parents=True, exist_ok=True)
            # Another sweep in this dir, or a resume of this one, would run the same jobs.
            advice = WAIT_THEN_RESUME if resumed else "choose another hydra.sweep.dir, or wait for it to end"
            self.hold.enter_context(only_process_in(sweep_dir, advice))
            if resumed:
                refuse_changed_sweep(sweep_dir, config)
                refuse_changed_jobs(sweep_dir, config, config_name)
                refuse_renamed_jobs(sweep_dir)
            else:
                refuse_used_sweep_dir(sweep_dir)
            with interrupt.deferred(), atomic_write(sweep_dir / SWEEP_FILE) as tmp:  # rewritten on each resume
                OmegaConf.save(config, tmp)
        except OSError as e:
            fail(cannot_use(sweep_dir, e, "hydra.sweep.dir"))
        SweepCallback.sweep_dir = sweep_dir
        at_once = jobs_at_once(sweep_dir)
        if config.hydra.launcher._target_ == JOBLIB_LAUNCHER:
            self.hold.enter_context(interrupt.jobs_record_their_stop(sweep_dir))
            say_threads_beside_jobs(config.threads, threads_per_job(config.hydra.launcher, at_once))
            say_trials_one_by_one(config)
        say_swept_over_the_experiment(config)
        SweepCallback.on_slurm = config.hydra.launcher._target_ == SLURM_LAUNCHER
        log.info("Sweep dir: %s (compare its jobs: %s)", sweep_dir, compare_command(sweep_dir))
        say_jobs_composed_first(config, at_once)  # after the dir: the wait is next
        say_a_list_is_one_job(config, at_once)

    @ends_the_command
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from mlp_exp import compare

        # After the last job: the basic sweeper gets here only when none failed, Optuna's also past failed trials.
        SweepCallback.completed = True
        with interrupt.deferred():  # a Ctrl-C here leaves the comparison whole, table and plot, then says so
            compare.report(absolute_sweep_dir(config.hydra))


class FailedSweep(NamedTuple):
    message: str  # how many jobs did not complete, and how each ended
    diverged_only: bool  # whether each of them diverged


def report_failed_sweep() -> FailedSweep | None:
    """The comparison, after a sweep that ended on a failed job (Hydra then skips `on_multirun_end`), and the line
    that ends the sweep. None outside a sweep, and where no job left a record (hydra.output_subdir=null, before
    mlp_exp refused it): the failed job's own error then says it."""
    from mlp_exp import compare

    if SweepCallback.sweep_dir is None:
        return None
    runs = compare.report(SweepCallback.sweep_dir)
    ends = Counter(run.status for run in runs if run.status != Status.completed)
    if not ends:
        return None
    how = ", ".join(f"{count} {status}" for status, count in ends.items())
    jobs = "job" if len(runs) == 1 else "jobs"
    message = f"{ends.total()} of {len(runs)} {jobs} did not complete ({how}); the table above says which"
    return FailedSweep(message, diverged_only=set(ends) == {Status.diverged})


def search_failed(e: Exception) -> bool:
    """Whether `e` is how Optuna's sweeper ends a search none of whose trials completed: asked for the best trial,
    its study has none. Each trial's failure was caught and recorded; the sweep's own end (and comparison) never
    came."""
    return SweepCallback.sweep_dir is not None and isinstance(e, ValueError) and str(e) == OPTUNA_NO_TRIAL_COMPLETED


def log_optuna_as_hydra() -> None:
    """Optuna's own lines in the sweep's log format, on stdout: its handler writes them to stderr with terminal
    colour codes, which a log file or CI then shows as escape sequences."""
    import optuna

    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()


def refuse_uncomposable_values(config: DictConfig, config_name: str) -> None:
    """A swept value Hydra cannot compose a config from (`lr=0.1,abc`, `activation=relu,ReLU`,
    `optimizer=sgd,nosuch`) stops the whole sweep where its job comes, after the jobs before it ran (or, for a
    group's option, at the sweep's start, its dir already made), and every resume of it there again: such values
    are tried here, before any job. (A value of the right type that no run can use: `refuse_unusable_values`.)

    At ~70 ms a compose, a key's values are tried one per kind: each string (a number or a choice could be
    misspelled), one of each other type; a key no run has (`hiddenz=16,32`, `+hiddenz=16,32`) is refused at once.
    A group's values are looked up among its options, which the user's own search path (--config-dir,
    hydra.searchpath) may add to. A value in hydra.sweeper.params that is no sweep (`lr: [0.01, 0.1]`, in a preset
    of the user's own) is in no job's config yet: every job gets it, and it is tried too."""
    from mlp_exp.config_errors import one_line

    leaves, nested = schema_keys(), nested_keys()
    overrides = sweep_overrides(config)
    fixed = fixed_overrides(config, overrides)
    if fixed_params := fixed_by_params(config, overrides):
        try:
            every_job = compose(config_name, overrides=fixed, return_hydra_config=True)
        except Exception as e:
            message = one_line(e, fixed)
            if message is None:
                raise
            lists = (o for o in fixed_params if isinstance(o.value(), list) and message.startswith(o.input_line))
            if listed := next(lists, None):
                values = ",".join(map(as_typed, listed.value()))
                message += (
                    f"; hydra.sweeper.params lists a sweep's values without brackets: {listed.key_or_group}: {values}"
                )
            raise ConfigError(message) from e
        swept = [o for o in overrides if o.is_sweep_override()]
        set_by_the_job = {k for o in swept for k in _keys_set_by(o, config, config_name)}
        check_values_left(every_job, set_by_the_job)
    for override in overrides:
        key = override.key_or_group
        # Hydra's own keys are checked before, and so is each value that is not swept.
        if _hydras_own(key) or not override.is_sweep_override():
            continue
        if override.is_range_sweep() and override.value().step == 0:  # Hydra's range would fail with a traceback
            raise ConfigError(f"{override.input_line} is not allowed: give a range a step other than 0")
        if override.is_range_sweep() and next(iter(override.sweep_iterator()), None) is None:  # no jobs, which "ran"
            raise ConfigError(
                f"{override.input_line} is not allowed: it has no values; a range runs from its start "
                "up to its stop, not including it, by its step"
            )
        options = _group_options(key, config, config_name)
        # A key no run has, misspelled or added with + (hiddenz=16,32, +dataset.foo=1,2, lrr=interval(0.01,0.1)). An
        # item of a list (dataset.classes.0) is a key of the run's.
        if not options and key not in [*leaves, *nested] and not any(key.startswith(f"{leaf}.") for leaf in leaves):
            raise ConfigError(unknown_key_message(key, override.input_line.partition("=")[2]))  # the values as typed
        if override.value_type is ValueType.GLOB_CHOICE_SWEEP:
            _refuse_glob(override, options, searched=_searched(config))
        if not _lists_its_values(override):
            continue
        if options:  # a config group, mlp_exp's or the user's own
            for value in override.sweep_string_iterator():
                if value not in options:
                    raise ConfigError(f"{key}={value} is not allowed: use one of {', '.join(options)}")
            continue
        kinds = {}  # value's kind -> its text
        for element, text in zip(override.sweep_iterator(), override.sweep_string_iterator(), strict=True):
            kinds.setdefault(element if isinstance(element, str) else type(element), text)
        for value in kinds.values():
            typed = f"{override.get_key_element()}={value}"
            try:
                compose(config_name, overrides=[*fixed, typed])
            except Exception as e:
                message = one_line(e, [typed])
                if message is None:
                    raise
                raise ConfigError(message) from e


def refuse_unusable_values(config: DictConfig, config_name: str) -> None:
    """A swept value of the right type that no run can use (`-m hiddens=64,0`, `lr=0.1,-1`) would fail its job, after
    the jobs before it trained: each value of a knob is checked here, in the sweep's config, where the keys the
    sweep's other overrides set are left to the job (`-m optimizer=sgd,adam optimizer.momentum=0,0.9` fails only its
    adam jobs with momentum). Up to CHECKED_VALUES values of a knob, then its last: every rule allows an interval.
    Each swept option of a config group is composed (~70 ms) and checked likewise: a preset of the user's own may
    set a value no run can use (`momentum: 1.5`), or one of the wrong type (`momentum: abc`, which its compose here
    refuses). (Checked after `refuse_uncomposable_values`, which names a swept value of the wrong type as such.)"""
    leaves = schema_keys()
    overrides = sweep_overrides(config)
    swept = [o for o in overrides if o.is_sweep_override()]
    # What hydra.sweeper.params fixes (a preset's `optimizer: sgd`) is in no job's config yet either.
    keys_set = [(o, _keys_set_by(o, config, config_name)) for o in [*swept, *fixed_by_params(config, overrides)]]
    fixed = fixed_overrides(config, overrides)
    for override in swept:
        key = override.key_or_group
        if not _lists_its_values(override):
            continue
        set_by_the_job = {k for other, keys in keys_set if other is not override for k in keys}
        if _group_options(key, config, config_name):
            for option in override.sweep_string_iterator():
                job = compose(config_name, [*fixed, f"{override.get_key_element()}={option}"], return_hydra_config=True)
                check_values_left(job, set_by_the_job)
            continue
        if key not in leaves:
            continue
        values = list(itertools.islice(override.sweep_iterator(), CHECKED_VALUES))
        if len(values) == CHECKED_VALUES:  # a range of millions: its ends, as every rule allows an interval
            values.append(collections.deque(override.sweep_iterator(), maxlen=1)[0])
        if override.is_range_sweep() and _searched(config):  # Optuna draws range(a, b) up to b where a step lands
            sweep = override.value()
            if (Decimal(str(sweep.stop)) - Decimal(str(sweep.start))) % Decimal(str(sweep.step)) == 0:
                values.append(sweep.stop)
        check_swept_values(config, key, values, set_by_the_job)


def _refuse_glob(override: Override, options: list[str], searched: bool) -> None:
    """A glob over a group's options that matches none would be a sweep of no jobs, which "ran"; Optuna's sweeper
    takes no glob, and fails on one with a bare assertion."""
    if not options:
        raise ConfigError(
            f"{override.input_line} is not allowed: a glob picks among a config group's options, and "
            f"{override.key_or_group} is no group; list its values"
        )
    if not (matched := override.value().filter(options)):
        raise ConfigError(
            f"{override.input_line} is not allowed: it matches none of {override.key_or_group}'s options "
            f"({', '.join(options)})"
        )
    if searched:
        raise ConfigError(
            f"{override.input_line} is not allowed in a search: list the options to search, as "
            f"{override.key_or_group}=choice({','.join(matched)})"
        )


def _lists_its_values(override: Override) -> bool:
    """Whether a sweep's override lists the values its jobs get: not an interval, whose numbers Optuna draws, nor a
    glob (`optimizer=glob(s*)`), which picks among a group's options."""
    return override.is_discrete_sweep() and override.value_type is not ValueType.GLOB_CHOICE_SWEEP


def _keys_set_by(override: Override, config: DictConfig, config_name: str) -> set[str]:
    """The keys of a job's config that a sweep's override may set: its own key; all the keys of a config group's
    options (optimizer=sgd,adam), or every key for a group whose options are global presets (experiment=...); none
    of Hydra's own."""
    key = override.key_or_group
    if _hydras_own(key):
        return set()
    if not _group_options(key, config, config_name):
        return {key}
    return {leaf for leaf in schema_keys() if key not in nested_keys() or leaf.startswith(f"{key}.")}


def _group_options(key: str, config: DictConfig, config_name: str) -> list[str]:
    """The options of config group `key` (mlp_exp's, and those of the user's own search path); none for a key."""
    loader = GlobalHydra.instance().config_loader()
    return loader.get_group_options(key, config_name=config_name, overrides=given_overrides(config.hydra)["hydra"])


def _searched(config: DictConfig) -> bool:
    """Whether the sweep is an Optuna search."""
    return config.hydra.sweeper._target_ == OPTUNA_SWEEPER


def _hydras_own(key: str) -> bool:
    """Whether an override's key or group is Hydra's (hydra.launcher.n_jobs, hydra/launcher), not a job's."""
    return key.split(".")[0].split("/")[0] == "hydra"


def say_swept_over_the_experiment(config: DictConfig) -> None:
    """A warning where the experiment preset given (experiment=deeper) sets a knob that the sweep or search preset
    given sets for each job: its jobs take the sweep's values (one-layer nets for sweep=widths), though their dirs
    name the experiment. A knob swept on the command line is the user's own word, and not warned about."""
    given = {override.partition("=")[0]: override for override in given_overrides(config.hydra)["task"]}
    sweeping = next((given[key] for key in SWEEP_PRESETS if key in given), None)
    if "experiment" not in given or sweeping is None:
        return
    option = config.hydra.runtime.choices.experiment
    preset = config_file(config.hydra, f"experiment/{option}")
    if preset is None:
        return
    own = OmegaConf.load(preset)  # its own keys, not those of the presets it extends (deeper: hiddens)
    swept = set(config.hydra.sweeper.get("params") or {}) - set(given)  # a key on the command line wins over both
    overridden = sorted(key for key in swept if OmegaConf.select(own, key, default=None) is not None)
    if overridden:
        log.warning(
            "%s sets %s, which %s sets for each job: the jobs take %s values, not the preset's",
            given["experiment"],
            ", ".join(overridden),
            sweeping,
            "the search's" if sweeping.startswith("hparams_search") else "the sweep's",
        )


def refuse_interval_in_a_plain_sweep(config: DictConfig) -> None:
    """A plain sweep runs the values it lists: Hydra's basic sweeper fails on an interval (`lr=interval(0.01,0.1)`),
    which only a search samples, after the sweep dir is made."""
    if config.hydra.sweeper._target_ != BASIC_SWEEPER:
        return
    if interval := next((o for o in sweep_overrides(config) if o.is_interval_sweep()), None):
        ends = interval.value()
        listed = f"{interval.key_or_group}={as_typed(ends.start)},{as_typed(ends.end)}"
        raise ConfigError(
            f"{interval.input_line} is not allowed in a plain sweep, which runs the values it lists: list them "
            f"(-m {listed}, and any between), or search the interval with hparams_search=optuna"
        )


def refuse_searched_seed(config: DictConfig) -> None:
    """Optuna takes `seed=1,2` as one more knob to search (its best seed), not as seeds to run each trial from: a
    seed that scores best only says which draw of the noise was lucky."""
    if not _searched(config):
        return
    if seeds := next((o for o in sweep_overrides(config) if o.key_or_group == "seed" and o.is_sweep_override()), None):
        raise ConfigError(
            f"{seeds.input_line} is not allowed in a search, which would search for the luckiest seed rather than "
            "run each trial from each; give one seed a search (seed=2), and search again with another to see the noise"
        )


def refuse_optuna_grid(config: DictConfig) -> None:
    """Optuna's grid sampler (hydra/sweeper/sampler=grid) fails on the search's intervals with a traceback, even
    where the command line replaced them with values, and this Optuna version may ask for one combination twice.
    A plain sweep is the grid search: each combination once, in parallel if asked, resumable."""
    if config.hydra.sweeper.get("sampler", {}).get("_target_") == OPTUNA_GRID_SAMPLER:
        raise ConfigError(
            "hydra/sweeper/sampler=grid is not allowed: for a grid search, sweep without Optuna, which runs each "
            "combination once: python -m mlp_exp -m lr=0.01,0.1 hiddens=64,256"
        )


def refuse_unsearchable(config: DictConfig) -> None:
    """What Optuna cannot search (hydra.sweeper.direction=max, lr=interval(1,0.1), a log interval from 0) it refuses
    with a traceback once the data is read and the sweep dir made; said here, before, by the sweeper's own reading."""
    if not _searched(config):
        return
    # The sweeper's own reading of an override (hydra-optuna-sweeper 1.3's).
    from hydra_plugins.hydra_optuna_sweeper._impl import create_optuna_distribution_from_override

    direction = config.hydra.sweeper.direction
    if isinstance(direction, Enum):  # the plugin's default, Direction.minimize: a file or override gives a string
        raise ConfigError(
            "hydra/sweeper=optuna minimizes its objective unless told otherwise, and a trial's is its final "
            "accuracy: give hydra.sweeper.direction=maximize, or search with hparams_search=optuna, which does"
        )
    if direction not in OPTUNA_DIRECTIONS:  # a list is several objectives, where a trial returns one
        raise ConfigError(
            f"hydra.sweeper.direction={as_typed(direction)} is not allowed: a search has one objective, a trial's "
            "final accuracy; give hydra.sweeper.direction=maximize (or minimize, to find the worst settings)"
        )
    for override in sweep_overrides(config):
        try:
            create_optuna_distribution_from_override(override)
        except ValueError as e:  # its reason names the fix: "The `low` value must be larger than 0 for a log ..."
            reason = str(e).rstrip(".").replace("`", "")
            raise ConfigError(f"{override.input_line} is not allowed in a search: {reason}") from None


def refuse_unseeded_sampler(config: DictConfig) -> None:
    """An Optuna sampler without a seed (hydra/sweeper/sampler=random, cmaes) asks other trials each time the search
    runs: a resume would train a new search's trials beside the old one's, under the same trial numbers."""
    sampler = config.hydra.sweeper.get("sampler") or {}
    if "seed" not in sampler or sampler.seed is not None:
        return
    given = f"hydra/sweeper/sampler={config.hydra.runtime.choices.get('hydra/sweeper/sampler', '...')}"
    if resuming(absolute_sweep_dir(config.hydra)):  # a search started before mlp_exp refused these
        raise ConfigError(
            f"this search cannot be resumed: its sampler ({given}) had no seed, and would ask other trials than "
            "those it trained; start a new search, with hydra.sweeper.sampler.seed=1"
        )
    raise ConfigError(
        f"{given} is not allowed without a seed: a resume of the search could not ask the same trials again; "
        "give it one: hydra.sweeper.sampler.seed=1"
    )


def refuse_slurm_without_slurm(config: DictConfig) -> None:
    """submitit fails with a traceback where Slurm's srun is not on PATH; said here, before the sweep dir exists."""
    if config.hydra.launcher._target_ == SLURM_LAUNCHER and shutil.which("srun") is None:
        raise ConfigError(
            "hydra/launcher=slurm is not allowed here: Slurm's srun is not on PATH; start the sweep on a machine of "
            "the cluster, or run its jobs here with hydra/launcher=joblib"
        )


def refuse_no_jobs(config: DictConfig) -> None:
    """joblib fails with a traceback on n_jobs=0, and Optuna's sweeper on n_trials or n_jobs below 1, after the
    sweep dir exists."""
    if config.hydra.launcher._target_ == JOBLIB_LAUNCHER and config.hydra.launcher.n_jobs == 0:
        raise ConfigError(
            "hydra.launcher.n_jobs=0 is not allowed: give the number of jobs to run side by side, or -1 for one per core"
        )
    if not _searched(config):
        return
    for key, what in (("n_trials", "the number of trials"), ("n_jobs", "the number of trials asked for at once")):
        if config.hydra.sweeper[key] < 1:
            raise ConfigError(f"hydra.sweeper.{key}={config.hydra.sweeper[key]} is not allowed: give {what}, 1 or more")


def sweep_overrides(config: DictConfig, config_loader: ConfigLoader | None = None) -> list[Override]:
    """The sweep's overrides, those in hydra.sweeper.params and those on the command line, swept or not.
    `config_loader`: the running app's, without which a glob() over a group's options cannot list its values."""
    params = config.hydra.sweeper.get("params")
    params = OmegaConf.to_container(params, resolve=False) if params else {}
    return OverridesParser.create(config_loader).parse_overrides(
        [*(f"{key}={value}" for key, value in params.items()), *given_overrides(config.hydra)["task"]]
    )


def sweep_datasets(config: DictConfig, config_name: str) -> list[DictConfig]:
    """The dataset configs a sweep's jobs use: one per option of a `dataset=` sweep (on the command line or in
    hydra.sweeper.params), else the one configured."""
    overrides = sweep_overrides(config, GlobalHydra.instance().config_loader())  # `dataset=glob(*)` lists options
    names = [
        name
        for override in overrides
        if override.key_or_group == "dataset" and (override.is_choice_sweep() or override.is_range_sweep())
        for name in override.sweep_string_iterator()
    ]
    # One that hydra.sweeper.params fixes (a preset's `dataset: mnist`) is in no job's config yet.
    names = names or [str(o.value()) for o in fixed_by_params(config, overrides) if o.key_or_group == "dataset"]
    if not names:
        return [config.dataset]
    # Each dataset option brings its own settings (system_dir, classes), so each is composed as its jobs will be.
    fixed = fixed_overrides(config, overrides)
    return [compose(config_name, overrides=[*fixed, f"dataset={name}"]).dataset for name in dict.fromkeys(names)]


def fixed_by_params(config: DictConfig, overrides: list[Override]) -> list[Override]:
    """The overrides hydra.sweeper.params gives every job (a preset's `optimizer: sgd`): unlike those of the command
    line, they are in no job's config yet, the sweep's own included."""
    params = set(config.hydra.sweeper.get("params") or {})
    return [o for o in overrides if o.key_or_group in params and not o.is_sweep_override()]


def fixed_overrides(config: DictConfig, overrides: list[Override]) -> list[str]:
    """What every job of the sweep is composed with: its overrides that are not swept, and the user's own search
    path (hydra.searchpath), where options of the config groups may come from."""
    return [*search_path(config), *(override.input_line for override in overrides if not override.is_sweep_override())]


def search_path(config: DictConfig) -> list[str]:
    """The user's own search path (hydra.searchpath=...), as given, where options of the config groups may come from."""
    return [override for override in given_overrides(config.hydra)["hydra"] if override.startswith("hydra.searchpath=")]


def planned_sweep(sweep_dir: Path) -> tuple[DictConfig, list[list[str]] | None] | None:
    """The sweep in `sweep_dir` as its multirun.yaml describes it, and the overrides of each of its jobs, in Hydra's
    order, where its sweeper is the basic (grid) one and they can be known here (not a glob() over a group's
    options, which only Hydra's config loader expands); None without a readable multirun.yaml."""
    try:
        config = OmegaConf.load(sweep_dir / SWEEP_FILE)
        if config.hydra.sweeper._target_ != BASIC_SWEEPER:
            return config, None
    except (OSError, yaml.YAMLError, OmegaConfBaseException):
        return None
    try:
        (planned,) = BasicSweeper.split_arguments(sweep_overrides(config), max_batch_size=None)
    except (HydraException, OmegaConfBaseException, ValueError):  # glob(), interval(), a hand-edited override
        return config, None
    return config, planned


def jobs_at_once(sweep_dir: Path) -> int | None:
    """The most jobs of the sweep in `sweep_dir` that its sweeper hands the launcher at once: a grid's jobs (in
    batches of max_batch_size, where set), or Optuna's trials asked for together; None where not known here."""
    if (sweep := planned_sweep(sweep_dir)) is None:
        return None
    config, planned = sweep
    with contextlib.suppress(OmegaConfBaseException, TypeError, ValueError):  # a hand-edited multirun.yaml's
        sweeper = config.hydra.sweeper
        if planned is not None:
            return min(len(planned), sweeper.get("max_batch_size") or len(planned))
        if _searched(config):
            return min(int(sweeper.n_jobs), int(sweeper.n_trials))
    return None


def threads_per_job(launcher: DictConfig, jobs: int | None = None, cores: int | None = None) -> int:
    """CPU threads for each job of a sweep so that jobs running side by side share the cores (default: those
    this process may use) instead of each starting one thread per core; 0 (torch's default) where the launcher
    runs one job at a time. `jobs`: the most the sweep has at once (`jobs_at_once`), where known; a launcher that
    could run more side by side runs only those."""
    if launcher.get("cpus_per_task"):  # submitit: the cores each job asks Slurm for
        return int(launcher.cpus_per_task)
    cores = cores or available()
    if launcher._target_ == SUBMITIT_LOCAL_LAUNCHER:  # all jobs at once, however many
        return max(1, cores // jobs) if jobs else 1
    if launcher._target_ == JOBLIB_LAUNCHER:
        n_jobs = joblib_workers(launcher, cores)
        return max(1, cores // min(n_jobs, jobs or n_jobs))
    return 0


def joblib_workers(launcher: DictConfig, cores: int) -> int:
    """The jobs the joblib launcher runs side by side: its n_jobs, where -1 is one per core (joblib's rule)."""
    return launcher.n_jobs if launcher.n_jobs > 0 else max(1, cores + 1 + launcher.n_jobs)


def say_trials_one_by_one(config: DictConfig) -> None:
    """A warning where an Optuna search asks for fewer trials at once (hydra.sweeper.n_jobs) than the joblib launcher
    would run side by side: the launcher gets that many, and the rest of its workers wait."""
    if not _searched(config):
        return
    sweeper, workers = config.hydra.sweeper, joblib_workers(config.hydra.launcher, available())
    side_by_side = min(workers, sweeper.n_trials)
    if sweeper.get("n_jobs", 0) < side_by_side:
        log.warning(
            "hydra.sweeper.n_jobs=%d: Optuna asks for %s at a time, and the launcher's other workers wait; "
            "hydra.sweeper.n_jobs=%d runs %d side by side",
            sweeper.n_jobs,
            "one trial" if sweeper.n_jobs == 1 else f"{sweeper.n_jobs} trials",
            side_by_side,
            side_by_side,
        )


def say_a_list_is_one_job(config: DictConfig, at_once: int | None) -> None:
    """A warning where a sweep of one job (`at_once`: `jobs_at_once`) was given a list (`-m hiddens=[64,128]`): one
    value, a net with two hidden layers, where the user may have meant a sweep over the widths."""
    if config.hydra.sweeper._target_ != BASIC_SWEEPER or at_once != 1:
        return
    if listed := next((o for o in sweep_overrides(config) if isinstance(o.value(), list) and o.value()), None):
        log.warning(
            "%s is one value, a list, so this sweep runs one job; one job for each of its items: -m %s=%s",
            listed.input_line,
            listed.key_or_group,
            ",".join(map(as_typed, listed.value())),
        )


def say_jobs_composed_first(config: DictConfig, at_once: int | None) -> None:
    """A warning where Hydra's basic sweeper would be silent for long before the first job: it composes the config
    of every job it hands the launcher at once (`at_once`: all, unless hydra.sweeper.max_batch_size), to check them,
    first."""
    if config.hydra.sweeper._target_ != BASIC_SWEEPER or not at_once:
        return
    if (wait_s := at_once * COMPOSE_S) > SAID_WAIT_S:
        log.warning(
            "Hydra composes the config of each of the %d jobs before the first starts: about %s; "
            "hydra.sweeper.max_batch_size=100 starts sooner, then goes on in batches of 100",
            at_once,
            f"{wait_s / 60:.0f} min" if wait_s > 120 else f"{wait_s:.0f} s",
        )

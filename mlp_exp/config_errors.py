"""Hydra's and OmegaConf's errors about what the user typed, as the one line mlp_exp prints for every user error.

Hydra reports a bad override in several lines, plus a hint about HYDRA_FULL_ERROR; these messages name the
key, the value and what is allowed instead, in the words `config.check` uses for values out of range.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import get_type_hints

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import (
    ConfigCompositionException,
    HydraException,
    MissingConfigException,
    OverrideParseException,
    SearchPathException,
)
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException, ValidationError

from mlp_exp.config import (
    CONF_DIR,
    CONFIG_GROUPS,
    SWEEP_PRESETS,
    Config,
    allowed_values,
    as_typed,
    first_line,
    nested_keys,
    schema_keys,
    unknown_key_message,
)
from mlp_exp.files import command, resume_command
from mlp_exp.overrides import presets_swept

GRAMMAR_DOCS = "https://hydra.cc/docs/1.3/advanced/override_grammar/basic/"
# The names a command line sets: knobs (`epochs=2`) and config groups (`optimizer=adam`).
KNOBS_AND_GROUPS = frozenset({*Config.__dataclass_fields__, *CONFIG_GROUPS})


def key_of(override: str) -> str:
    """The key an override sets, adds or deletes (`+lr=0.1`, `~optimizer`: lr, optimizer)."""
    return override.lstrip("+~").partition("=")[0]


def names_a_key(key: str) -> bool:
    """Whether dotted `key` is mlp_exp's or Hydra's (`epochs`, `optimizer.momentum`, `hydra.run.dir`)."""
    return key.split(".")[0] in {*KNOBS_AND_GROUPS, "hydra"}


def _the_option_instead(key: str, value: object) -> str:
    """`optimizer.name=momentum`: the group's option of that name (conf/optimizer/momentum.yaml) sets the name along
    with its settings (momentum=0.9)."""
    group, _, leaf = key.partition(".")
    if leaf == "name" and group in CONFIG_GROUPS and (CONF_DIR / group / f"{value}.yaml").is_file():
        return f", or choose the {group} by its option, with its settings: {group}={value}"
    return ""


def one_line(e: Exception, args: Sequence[str]) -> str | None:
    """The message for a config error Hydra or OmegaConf raised, None for anything else.

    `args`: the command line's arguments, where an unknown key's value is looked up.
    """
    if isinstance(e, OverrideParseException):
        key, equals, value = e.override.partition("=")
        if "=" in value and not value.startswith(("[", "{", "'", '"')):  # a path, such as a run dir's name
            fix = f"quote a value with = in it: '{key}=\"{value}\"'"
        elif value.startswith("~/"):  # a path under the home dir: Hydra's ~ deletes a key, and the shell left it
            fix = f"write the path from / ({key}=$HOME{value[1:]})"
            if key in ("dataset.root", "dataset.system_dir"):  # the keys that expand a ~ of their own
                fix += f", or quote it: '{key}=\"{value}\"'"
        elif not equals and key in ("compare", "resume") and key in args:  # `python -m mlp_exp compare outputs`
            following = value_after(args, args.index(key))
            directory = following if following != "VALUE" else "DIR"
            return (
                f"{key} is not a knob but a command of its own: {command('python', '-m', f'mlp_exp.{key}')} {directory}"
            )
        elif not equals and key in KNOBS_AND_GROUPS and key in args:  # `epochs 2`
            fix = f"write key=value, as {key}={value_after(args, args.index(key))}"
        elif not value.isascii() and not value.startswith(("'", '"')):  # Hydra's grammar takes such letters quoted
            fix = f"quote a value with letters beyond ASCII: '{key}=\"{value}\"'"
        elif value.endswith(",") and value.count("[") == value.count("]"):  # `-m hiddens=64,128,`, not `[512,`
            if rest := _split_off(args, e.override):  # `-m lr=0.1, 0.3, 1`: the shell split the values at the spaces
                split = (
                    "are arguments of their own; leave the spaces out"
                    if len(rest) > 1
                    else "is an argument of its own; leave the space out"
                )
                return (
                    f"{e.override} is not a valid override: it ends in a comma, and {' '.join(rest)} after it {split}: "
                    f"{key}={value}{''.join(rest)}"
                )
            return (
                f"{e.override} is not a valid override: it ends in a comma; leave that out: {key}={value.rstrip(',')}"
            )
        elif key in LIST_KEYS and value.startswith("(") and value.endswith(")"):  # `hiddens=(512,256)`, Python's tuple
            fix = f"write a list in brackets: '{key}=[{value[1:-1]}]'"
        elif key in TEXT_KEYS and "(" in value and not re.match(rf"({'|'.join(GRAMMAR_FUNCTIONS)})\(", value):
            fix = f"quote a value with parentheses in it: '{key}=\"{value}\"'"  # a path: `runs/(v2)`, not `glob(*)`
        else:
            fix = "write key=value, e.g. 'hiddens=[512,256]'"
        # The parser's list of every token it would have taken says nothing to a user.
        problem = re.sub(r" expecting \{.*\}", "", first_line(e.message))
        return f"{e.override} is not a valid override ({problem}); {fix} (see {GRAMMAR_DOCS})"
    # Config folders on the command line that are not there: Hydra's words name no flag and no fix.
    if isinstance(e, SearchPathException) and (folder := re.search(r"config directory '(.*)' not found", str(e))):
        return (
            f"--config-dir {folder[1]}: no such folder; give a folder of config files in conf/'s layout (experiment/)"
        )
    primary = isinstance(e, MissingConfigException) and str(e).startswith("Cannot find primary config")
    if isinstance(e, MissingConfigException) and (path := _flags_given(args).config_path):
        copy = "give the absolute path of a whole copy of mlp_exp's conf/, or leave it out"
        if re.match(r"Primary config (directory|module) .*not found", str(e)):
            # Hydra looks for a relative one inside the package of the app (mlp_exp's), as a module.
            where = "" if Path(path).is_absolute() else " (a relative path is looked for inside mlp_exp's package)"
            return f"--config-path {path}: no such folder{where}; {copy}"
        if primary:
            return f"--config-path {path}: it has no {e.missing_cfg_file}.yaml; {copy}"
    if primary and (name := _flags_given(args).config_name):
        return (
            f"--config-name {name}: there is no {name}.yaml; give the name of a config file of your own "
            "--config-dir (a copy of conf/config.yaml, changed), or leave it out"
        )
    if isinstance(e, MissingConfigException) and e.options and "/" in (e.missing_cfg_file or ""):
        parts = e.missing_cfg_file.split("/")
        if len(parts) == 3 and parts[0] == parts[1] and parts[2] in e.options:  # `experiment=experiment/mine`
            return f"{parts[0]}={parts[0]}/{parts[2]} is not allowed: name the option alone: {parts[0]}={parts[2]}"
        group, option = e.missing_cfg_file.rsplit("/", 1)
        return f"{group}={option} is not allowed: use one of {', '.join(e.options)}"
    if isinstance(e, yaml.MarkedYAMLError) and e.problem_mark is not None:  # a config file that is not YAML
        mark, context = e.problem_mark, f"{e.context}, " if e.context else ""
        return f"cannot read {mark.name}: {context}{e.problem} at line {mark.line + 1}, column {mark.column + 1}"
    if isinstance(e, ConfigCompositionException) and (in_file := re.match(r"In '([^']+)': ", str(e))):
        return _in_config_file(in_file[1], e, args)
    # Hydra wraps OmegaConf's error, which names the key, in its own ("Error merging override lr=abc").
    cause = e.__cause__ if isinstance(e, ConfigCompositionException) and e.__cause__ is not None else e
    if isinstance(cause, (ConfigAttributeError, ConfigKeyError)) and cause.full_key.startswith("hydra."):
        return _unknown_hydra_key(cause, args)
    if isinstance(cause, (ConfigAttributeError, ConfigKeyError)) and cause.full_key not in schema_keys():
        key = _typed_key(cause.full_key, args)  # OmegaConf names a dotted key's first unknown part only
        return unknown_key_message(key, _typed_value(key, args))
    if isinstance(cause, ValidationError) and cause.full_key in schema_keys():
        # epochs=2.0 as typed, not as 2; a file's `epochs: 2.0` as a float, which is why it is refused
        typed = _typed_value(cause.full_key, args) or (
            repr(cause.value) if isinstance(cause.value, float) else as_typed(cause.value)
        )
        refused = f"{cause.full_key}={typed} is not allowed: use {allowed_values(cause.full_key)}"
        return refused + _the_option_instead(cause.full_key, cause.value)
    if isinstance(cause, ValidationError) and cause.full_key.startswith("hydra."):  # hydra.launcher.n_jobs=abc
        wanted = re.search(r"could not be converted to (Integer|Float)|is not a valid (bool)", first_line(cause.msg))
        allowed = {"Integer": "use an int", "Float": "use a number", "bool": "use true or false"}
        return f"{cause.full_key}={as_typed(cause.value)} is not allowed: " + (
            allowed[wanted[1] or wanted[2]] if wanted else first_line(cause.msg)
        )
    if isinstance(cause, ValidationError) and cause.full_key in nested_keys():  # `visuals=false`
        first = next(key for key in schema_keys() if key.startswith(f"{cause.full_key}."))
        return (
            f"{cause.full_key}={_typed_value(cause.full_key, args) or as_typed(cause.value)} is not allowed: "
            f"{cause.full_key} holds several keys; "
            f"set one of them, e.g. {first}=... (`python -m mlp_exp --cfg job` lists them all)"
        )
    if isinstance(e, ValueError) and (shell := re.match(r"No completion plugin for '(.*)' found", str(e))):
        given = next((arg for arg in args if arg.endswith(f"install={shell[1]}")), f"install={shell[1]}")  # or un-
        shells = re.findall(r"^\t(\S+)", str(e), re.MULTILINE)  # Hydra lists them, one a line
        return f"-sc {given} is not allowed: use one of {', '.join(shells)}"
    if isinstance(e, (HydraException, OmegaConfBaseException)):
        # `+lr=0.2`: Hydra's + adds a key, and takes one that has a value already only for a list or a dict.
        if appended := re.fullmatch(r"Could not append to config\. An item is already at '(.*)'\.", first_line(e)):
            line = next((arg for arg in args if arg.startswith(f"+{appended[1]}=")), f"+{appended[1]}=...")
            return f"{line} is not allowed: {appended[1]} has a value already; set it without the +: {line[1:]}"
        if str(e).startswith(("Ambiguous value", "Sweep parameters")) and "--cfg" in args:
            if any(arg.startswith("hparams_search=") for arg in args):  # its space is in hydra.sweeper.params
                return (
                    f"{first_line(e)}: --cfg shows one run's config, --cfg hydra the search's space (hydra.sweeper."
                    "params) without the command line's values; drop the value"
                )
            return f"{first_line(e)}: --cfg shows the config of one run; give one value"
        if swept := re.fullmatch(r"Sweep parameters '(.*)' requires --multirun", first_line(e)):  # no -m, no search
            override = OverridesParser.create().parse_override(swept[1])
            if override.is_interval_sweep():  # which only a search samples
                return f"{first_line(e)}: search its interval with hparams_search=optuna"
            if override.key_or_group == "seed":  # which no search takes
                return f"{first_line(e)}: add -m to run each seed"
            return f"{first_line(e)}: add -m to sweep over its values, or hparams_search=optuna to search it"
        if ambiguous := re.fullmatch(r"Ambiguous value for argument '(.*)'", first_line(e)):  # `lr=0.1,0.05`, no -m
            key, _, value = ambiguous[1].partition("=")
            if key in SWEEP_PRESETS:  # which -m would not help
                return presets_swept(ambiguous[1], key)
            one_list = key in LIST_KEYS and not set(value) & set("[]'\"")  # no brackets or quotes of its own to nest
            return f"{first_line(e)}: add -m to sweep over the values" + (
                f", or write one list as '{key}=[{value}]'" if one_list else ""
            )
        return first_line(e)
    # Hydra's plain ValueErrors about the command line.
    if str(e).startswith("Only one of --run, --multirun, --cfg"):
        return f"{first_line(e)}: --cfg shows the config of one run, so drop -m and give one value per key"
    if str(e).startswith("Expecting one subcommand from"):  # `--shell-completion` alone
        # Hydra completes a script's arguments, not `python -m`'s: the completion is the mlp-exp script's.
        install = command("mlp-exp", "-sc", "install=bash")
        return (
            "--shell-completion needs what to do: install=bash, install=zsh or install=fish (or uninstall=...), "
            f'as in eval "$({install})", which completes the mlp-exp command'
        )
    # --experimental-rerun, or any abbreviation of it Hydra's parser takes (the only flag that starts so).
    if str(e).startswith("File ") and any(arg.startswith("--e") for arg in args):
        resume = resume_command("RUN_DIR")
        return f"--experimental-rerun: {first_line(e).rstrip('!')}; to go on with a stopped run, use {resume}"
    if str(e).startswith("Config group override must be a string or a list"):  # `optimizer=null`
        null = next((arg for arg in args if arg.endswith("=null") and "." not in arg), "a group=null override")
        return f"{null} is not allowed: choose one of the group's options (`python -m mlp_exp --help` lists them)"
    return None


# The config groups whose files set keys anywhere (`# @package _global_`); the others' set their group's keys.
GLOBAL_GROUPS = ("experiment", "sweep", "hparams_search")

# The keys whose values are text, such as a path, which may hold what Hydra's grammar reads otherwise.
TEXT_KEYS = (
    "hydra.run.dir",
    "hydra.sweep.dir",
    "hydra.sweep.subdir",
    "hydra.job.name",
    "dataset.root",
    "dataset.system_dir",
)
# The functions of Hydra's override grammar (`range(1,4)`, `glob(*)`).
GRAMMAR_FUNCTIONS = ("range", "choice", "interval", "glob", "tag", "sort", "shuffle", "str", "int", "float", "bool")

# The keys whose one value may be a list (`hiddens=[512,256]`): `hiddens=512,256` without -m may have meant one.
LIST_KEYS = ("hiddens", "dataset.classes")

# The launcher's and sweeper's own keys come with the choice of one (conf/hydra/help/mlp_exp.yaml names these).
PLUGIN_CONFIGS = {
    "hydra/launcher=joblib": ("hydra.launcher", "hydra_plugins.hydra_joblib_launcher.config", "JobLibLauncherConf"),
    "hydra/launcher=slurm": ("hydra.launcher", "hydra_plugins.hydra_submitit_launcher.config", "SlurmQueueConf"),
    "hparams_search=optuna": ("hydra.sweeper", "hydra_plugins.hydra_optuna_sweeper.config", "OptunaSweeperConf"),
}


def _in_config_file(source: str, e: ConfigCompositionException, args: Sequence[str]) -> str:
    """What Hydra could not compose in the config file `source` (`experiment/mine`, in conf/ or a --config-dir): a
    key or value of OmegaConf's error, which Hydra's own line does not name ("In 'experiment/mine': ConfigKeyError
    raised while composing config:"), or Hydra's own word ("In 'experiment/mine': Could not override 'optimizr'")."""
    group = source.partition("/")[0]
    inner = e.__cause__ or e.__context__
    unknown_key = isinstance(inner, (ConfigAttributeError, ConfigKeyError))
    # Its keys, or its defaults list's overrides, under `experiment.`
    if (unknown_key and inner.full_key == group) or re.search(
        rf"Could not override '(\w+)@{re.escape(group)}\.\1'", str(e)
    ):
        return (
            f"{source}.yaml puts its keys under {group}, not at the top level: make its first line "
            f"`# @package _global_`, as in conf/{group}/"
        )
    # `- optimizer: adam` in its defaults list: an option of experiment/optimizer/, not of mlp_exp's optimizer group.
    chosen = re.search(rf"Could not find '{re.escape(group)}/(\w+)/([^']+)'", str(e))
    if chosen and chosen[1] in CONFIG_GROUPS:
        return (
            f"{source}.yaml: `- {chosen[1]}: {chosen[2]}` in its defaults list is looked for in {group}/{chosen[1]}/; "
            f"choose the {chosen[1]} with `- override /{chosen[1]}: {chosen[2]}`"
        )
    # `optimizer.momentum: 0.9`: a command line's dotted key, which YAML reads as one key
    if unknown_key and "." in inner.full_key and inner.full_key in schema_keys():
        *parents, leaf = inner.full_key.split(".")
        nested = "".join(f"{parent}: {{" for parent in parents) + f"{leaf}: ..." + "}" * len(parents)
        return f"{source}.yaml: `{inner.full_key}: ...` is not allowed: in a config file, nest it: `{nested}`"
    # An optimizer's `name: sgd` at the top level
    if unknown_key and group not in GLOBAL_GROUPS and inner.full_key in _keys_of(group):
        return (
            f"{source}.yaml puts its keys at the top level, not under {group}: take its `# @package _global_` line "
            f"out, as conf/{group}/ has none"
        )
    replaced = _NOT_A_SUBCLASS.match(str(inner)) if isinstance(inner, ValidationError) else None
    if replaced and (told := _value_for_keys(replaced[1], replaced[2])):
        return f"{source}.yaml: {told}"
    told = one_line(inner, args) if isinstance(inner, Exception) else None
    return f"{source}.yaml: {told or first_line(str(e).partition(': ')[2] or e)}"


def _keys_of(group: str) -> list[str]:
    """The keys a config group of the schema's sets (optimizer: name, momentum, weight_decay); none for another
    group (experiment, a group of the user's own, Hydra's)."""
    return [key.partition(".")[2] for key in schema_keys() if key.partition(".")[0] == group]


# OmegaConf's words for a config file's plain value where the schema has keys (`optimizer: adam`), which it does
# not name: the schema's type for those keys, and the value.
_NOT_A_SUBCLASS = re.compile(r"Merge error: \w+ is not a subclass of (\w+)\. value: (.*)")


def _value_for_keys(schema_type: str, value: str) -> str | None:
    """Why `optimizer: adam` in a config file is refused, where `schema_type` is optimizer's (OptimizerConfig): a
    group's option is chosen in the file's defaults list; the keys of `visuals` are set one by one. None for a type
    of Hydra's own config (`hydra: {job: x}`), whose error says enough."""
    key = next((key for key in nested_keys() if get_type_hints(Config)[key].__name__ == schema_type), None)
    if key is None:
        return None
    value = {"True": "true", "False": "false", "None": "null"}.get(value, value)  # as YAML spells them
    if key in CONFIG_GROUPS:
        option = value if re.fullmatch(r"[\w-]+", value) else "OPTION"  # not `['adam']`
        return (
            f"`{key}: {value}` is not allowed: a config file chooses the {key} in its defaults list, as "
            f"`defaults: [{{override /{key}: {option}}}]`"
        )
    first = next(name for name in schema_keys() if name.startswith(f"{key}.")).partition(".")[2]
    return f"`{key}: {value}` is not allowed: {key} holds several keys; set them, as `{key}: {{{first}: ...}}`"


def _unknown_hydra_key(cause: OmegaConfBaseException, args: Sequence[str]) -> str:
    """`hydra.sweeper.n_trial=2 is not allowed: hydra.sweeper has no key n_trial; did you mean ...n_trials?`, with
    the launcher or sweeper to choose for a key of one not chosen (`hydra.launcher.n_jobs` with the basic launcher).
    """
    node, _, name = cause.full_key.rpartition(".")
    # The override that set it, or one below it (`hydra.foo.bar=1`: hydra has no key foo), the deepest if several.
    given = [arg for arg in args if f"{key_of(arg)}.".startswith(f"{cause.full_key}.")]
    typed = max(given, key=lambda arg: len(arg.partition("=")[0]), default=cause.full_key)
    known = [str(key) for key in cause.parent_node] if cause.parent_node is not None else []
    close = difflib.get_close_matches(name, known, n=1)
    fix = f"; did you mean {node}.{close[0]}?" if close else _plugin_fix(node, name)
    return f"{typed} is not allowed: {node} has no key {name}{fix} (`python -m mlp_exp --cfg hydra` lists Hydra's keys)"


def _plugin_fix(node: str, name: str) -> str:
    """`; it comes with hydra/launcher=joblib` where a launcher or sweeper not chosen has the key (or one like it:
    `; did you mean hydra.sweeper.n_trials, which comes with hparams_search=optuna?`), else nothing."""
    choices = {}  # each key of the plugins for `node` -> the choice that brings it
    for choice, (plugin_node, module, config_class) in PLUGIN_CONFIGS.items():
        if node == plugin_node:
            for field in dataclasses.fields(getattr(importlib.import_module(module), config_class)):
                choices.setdefault(field.name, choice)
    close = difflib.get_close_matches(name, choices, n=1)  # all plugins' keys at once: an exact one comes first
    if not close:
        return ""
    if close[0] == name:
        return f"; it comes with {choices[name]}"
    return f"; did you mean {node}.{close[0]}, which comes with {choices[close[0]]}?"


def _flags_given(args: Sequence[str]) -> argparse.Namespace:
    """Hydra's flags as typed (`-cp DIR`, `--config-path=DIR`, `-cn NAME`), read by the parser Hydra's main runs (as
    cli.read_flags does), which read these `args` before; a flag not given is None."""
    from hydra._internal.utils import get_args_parser  # hydra-core 1.3

    return get_args_parser().parse_known_args(list(args))[0]


def value_after(args: Sequence[str], i: int) -> str:
    """The argument after args[i] where it looks like the value meant for it (`--lr 0.1`, `epochs 2`), else VALUE."""
    following = args[i + 1] if i + 1 < len(args) else ""
    flag = following.startswith("-") and not _is_number(following)  # -m, not -0.1
    return following if following and not flag and "=" not in following else "VALUE"


def _split_off(args: Sequence[str], override: str) -> list[str]:
    """The values after `override` (ending in a comma) that the shell split off at spaces: `0.3,` and `1` of
    `lr=0.1, 0.3, 1`; none where it is not among `args` or no value follows it."""
    if override not in args:
        return []
    rest = []
    for following in args[args.index(override) + 1 :]:
        if "=" in following or (following.startswith("-") and not _is_number(following)):
            break
        rest.append(following)
        if not following.endswith(","):
            break
    return rest


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _typed_key(key: str, args: Sequence[str]) -> str:
    """The key on the command line that `key` starts (`visual.enabled=false` for `visual`), else `key`."""
    for override in args:
        name = key_of(override)
        if name.startswith(f"{key}."):
            return name
    return key


def _typed_value(key: str, args: Sequence[str]) -> str | None:
    """The value given for `key` on the command line (`hiddenz=5` -> "5"), None if it is not there."""
    for override in args:
        name, sep, value = override.partition("=")
        if sep and name.lstrip("+~") == key:
            return value
    return None

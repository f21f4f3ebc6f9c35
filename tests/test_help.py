"""`python -m mlp_exp --help`: every knob with its true default, the groups with their options, working examples."""

import re
import sys

import pytest
import yaml
from conftest import compose_cfg, options, run_cli
from omegaconf import OmegaConf

from mlp_exp import cli
from mlp_exp.config import CONF_DIR, Activation


@pytest.fixture(scope="module")
def help_run(tmp_path_factory):
    # PYTHONPROFILEIMPORTTIME lists every module imported on stderr: the help must not pay for torch.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYTHONPROFILEIMPORTTIME", "1")
        return run_cli("--help", cwd=tmp_path_factory.mktemp("help"), timeout=60)


README = CONF_DIR.parent / "README.md"


def section(text, title):
    return text.split(f"== {title}")[1].split("\n== ")[0]


def test_help_exits_zero_without_importing_torch_or_matplotlib(help_run):
    assert help_run.returncode == 0, help_run.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in help_run.stderr.splitlines() if "|" in line}
    assert "hydra" in imported
    assert not imported & {"torch", "matplotlib"}


def test_help_lists_every_knob_with_its_default(help_run):
    knobs = dict(re.findall(r"^  ([\w.]+)=(\S+)(?: |$)", section(help_run.stdout, "Knobs"), re.MULTILINE))
    default = OmegaConf.to_container(compose_cfg(), enum_to_str=True)
    top_level = {key for key, value in default.items() if not isinstance(value, dict)}
    assert top_level | {f"visuals.{key}" for key in default["visuals"]} <= set(knobs)
    assert {f"dataset.{key}" for key in ("root", "system_dir", "download")} <= set(knobs)
    for key, shown in knobs.items():
        assert yaml.safe_load(shown) == OmegaConf.select(OmegaConf.create(default), key), key


def test_help_lists_the_groups_with_their_options(help_run):
    groups = section(help_run.stdout, "Config groups")
    for group in ("dataset", "optimizer", "experiment"):
        assert f"{group}: {', '.join(options(group))}" in groups
    for described in ("sweep ", "hparams_search ", "hydra/launcher "):  # each group with a line saying what it does
        assert f"\n  {described}" in groups


def test_every_activation_and_optimizer_is_named_where_users_choose_them(help_run):
    # Hand-written lines that a new activation or optimizer (README's "Extending") needs added to.
    knobs = section(help_run.stdout, "Knobs")
    activation_line = next(line for line in knobs.splitlines() if line.startswith("  activation="))
    readme_row = next(line for line in README.read_text().splitlines() if line.startswith("| `activation` |"))
    optimizer_line = next(line for line in help_run.stdout.splitlines() if line.startswith("  optimizer "))
    readme_optimizers = next(line for line in README.read_text().splitlines() if line.startswith("| `optimizer` |"))
    for name in Activation.__members__:
        assert re.search(rf"\b{name}\b", activation_line) and f"`{name}`" in readme_row, name
    for option in options("optimizer"):
        assert re.search(rf"\b{option}\b", optimizer_line) and f"`{option}`" in readme_optimizers, option


def test_help_examples_are_commands_that_compose(help_run):
    examples = re.findall(r"^  python -m mlp_exp(.*?)(?:  |$)", section(help_run.stdout, "Examples"), re.MULTILINE)
    assert len(examples) >= 5
    for args in examples:
        overrides = [arg.split(",")[0] for arg in args.split() if arg != "-m"]  # a sweep's first job
        compose_cfg(*overrides)


def test_version_names_mlp_exp_and_the_packages_it_runs_on(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["mlp_exp", "--version"])
    cli.main()  # Hydra's own --version names only Hydra
    assert re.fullmatch(r"mlp_exp \S+ \(torch \S+, torchvision \S+, hydra-core 1\.3\.\S+\)\n", capsys.readouterr().out)


@pytest.mark.parametrize(("typed", "offered"), [("activation=", "activation=relu"), ("device=", "device=auto")])
def test_tab_completion_offers_a_choice_knobs_value_as_it_is_typed(tmp_path, monkeypatch, typed, offered):
    # What the script `mlp-exp -sc install=bash` installs asks, with the line typed so far.
    line = f"mlp-exp {typed}"
    monkeypatch.setenv("COMP_LINE", line)
    monkeypatch.setenv("COMP_POINT", str(len(line)))
    result = run_cli("-sc", "query=bash", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [offered]


def test_a_completion_query_without_the_typed_line_is_one_line_and_exit_2(tmp_path, monkeypatch):
    monkeypatch.delenv("COMP_LINE", raising=False)
    result = run_cli("-sc", "query=bash", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: -sc query=... is what the installed completion asks")
    assert len(result.stderr.splitlines()) == 1  # no traceback

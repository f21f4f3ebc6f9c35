"""Every bad override or config value: one line naming the key, the value and what is allowed, exit 2, no traceback."""

import json
import os
import shutil
import signal
import sys
import warnings

import pytest
from conftest import FAST, compose_cfg, files_under, metrics_of, options, run_cli, tiny_overrides
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from mlp_exp import cli, compare, config, resume, sweep
from mlp_exp.config import HIDDENS_ALLOWED, Activation, ConfigError, Device, OptimizerName, check, unknown_key_message
from mlp_exp.config_errors import GRAMMAR_DOCS
from mlp_exp.exits import ends_the_command
from mlp_exp.files import command
from mlp_exp.overrides import check_before_the_job, check_dataset_option
from mlp_exp.records import read_metrics
from mlp_exp.run_dirs import refuse_inside_a_run
from mlp_exp.train import pick_device

# What a wrong choice is told to use: built from the choices, so that a newcomer's new activation or optimizer
# changes these tests' expectations with the messages.
ACTIVATIONS = ", ".join(Activation.__members__)
OPTIMIZER_NAMES = ", ".join(OptimizerName.__members__)
OPTIMIZER_OPTIONS = ", ".join(options("optimizer"))


def run_main(monkeypatch, capsys, *args):
    """`python -m mlp_exp ARGS` in this process: (exit code, stdout lines, stderr lines)."""
    monkeypatch.setattr(sys, "argv", ["mlp_exp", *args])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    out, err = capsys.readouterr()
    return exit_.value.code, out.splitlines(), err.splitlines()


# Errors Hydra finds while composing the config, before anything runs.
COMPOSE_ERRORS = [
    ("lr=abc", "lr=abc is not allowed: use a number"),
    ("lr=", "lr='' is not allowed: use a number"),
    ("epochs=1.5", "epochs=1.5 is not allowed: use an int"),
    ("epochs=2.0", "epochs=2.0 is not allowed: use an int"),  # as typed, not as the 2 it reads as
    ("epochs=true", "epochs=true is not allowed: use an int"),
    ("batch_size=big", "batch_size=big is not allowed: use an int"),
    ("init_scale=[1]", "init_scale=[1] is not allowed: use a number"),
    ("activation=ReLU", f"activation=ReLU is not allowed: use one of {ACTIVATIONS}"),
    ("device=tpu", "device=tpu is not allowed: use one of auto, cpu, cuda"),
    ("optimizer=SGD", f"optimizer=SGD is not allowed: use one of {OPTIMIZER_OPTIONS}"),
    ("optimizer.name=SGD", f"optimizer.name=SGD is not allowed: use one of {OPTIMIZER_NAMES}"),
    (  # a name that is an option of the group: the option sets it with its settings (momentum=0.9)
        "optimizer.name=momentum",
        (
            f"optimizer.name=momentum is not allowed: use one of {OPTIMIZER_NAMES}, or choose the optimizer by its "
            "option, with its settings: optimizer=momentum"
        ),
    ),
    ("dataset=cifar", "dataset=cifar is not allowed: use one of fashion_mnist, kmnist, mnist"),
    ("dataset.name=cifar", "dataset.name=cifar is not allowed: use one of fashion_mnist, mnist, kmnist"),
    ("dataset.download=maybe", "dataset.download=maybe is not allowed: use true or false"),
    ("experiment=nope", "experiment=nope is not allowed: use one of d2l_baseline, deeper"),
    (  # the file's path in conf/
        "experiment=experiment/deeper",
        "experiment=experiment/deeper is not allowed: name the option alone: experiment=deeper",
    ),
    ("hiddenz=5", "hiddenz=5 is not allowed: mlp_exp has no key hiddenz; did you mean hiddens?"),
    ("Lr=0.1", "Lr=0.1 is not allowed: mlp_exp has no key Lr; did you mean lr?"),
    ("batch=128", "batch=128 is not allowed: mlp_exp has no key batch; did you mean batch_size?"),  # a key's start
    ("decay=0.1", "decay=0.1 is not allowed: mlp_exp has no key decay; did you mean optimizer.weight_decay?"),
    ("dropout=0.5", "dropout=0.5 is not allowed: mlp_exp has no key dropout (`python"),  # no dataset.root: no match
    ("momentum=0.9", "momentum=0.9 is not allowed: mlp_exp has no key momentum; did you mean optimizer.momentum?"),
    ("optimzer=adam", "optimzer=adam is not allowed: mlp_exp has no key optimzer; did you mean optimizer?"),  # a group
    # dataset.name and optimizer.name share their last part: the prefix typed picks the one
    (
        "optimizer.nam=adam",
        "optimizer.nam=adam is not allowed: mlp_exp has no key optimizer.nam; did you mean optimizer.name?",
    ),
    # ... and where the prefix is not typed, the value picks the key it is an option of
    ("nme=adam", "nme=adam is not allowed: mlp_exp has no key nme; did you mean optimizer.name?"),
    ("nme=mnist", "nme=mnist is not allowed: mlp_exp has no key nme; did you mean dataset.name?"),
    ("nme=sgd", "nme=sgd is not allowed: mlp_exp has no key nme; did you mean optimizer.name?"),
    (  # OmegaConf names only `visual`, the first part it does not know
        "visual.enabled=false",
        "visual.enabled=false is not allowed: mlp_exp has no key visual.enabled; did you mean visuals.enabled?",
    ),
    ("visual=false", "visual=false is not allowed: mlp_exp has no key visual; did you mean visuals?"),
    (  # Hydra would merge the two: mnist's name and class names over fashion_mnist's files
        "dataset=[fashion_mnist,mnist]",
        (
            "dataset=[fashion_mnist,mnist] is not allowed: a run takes one dataset option, and Hydra would merge these "
            "into one; choose one, or sweep over them: -m dataset=fashion_mnist,mnist"
        ),
    ),
    (  # Hydra's idiom for a group with no default: Hydra would say how to edit a defaults list
        "+experiment=deeper",
        (
            "+experiment=deeper is not allowed: experiment is in conf/config.yaml's defaults already; choose its "
            "option without the +: experiment=deeper"
        ),
    ),
    ("+optimizer=[momentum,adam]", "+optimizer=[momentum,adam] is not allowed: optimizer is in conf/config.yaml's"),
    ("+lr=0.2", "+lr=0.2 is not allowed: lr has a value already; set it without the +: lr=0.2"),
    ("optimizer.beta=0.9", "optimizer.beta=0.9 is not allowed: mlp_exp has no key optimizer.beta"),
    ("hiddens=[512,", "hiddens=[512, is not a valid override ("),
    ("hiddens=64,", "hiddens=64, is not a valid override: it ends in a comma; leave that out: hiddens=64"),
    ("=0.1", "=0.1 is not allowed: it names no key; write key=value, e.g. lr=0.1"),  # `$KNOB=0.1`, KNOB not set
    (  # Hydra failed on it with a traceback
        "hydra.sweeper.params.lr=0.1,0.2",
        (
            "hydra.sweeper.params.lr=0.1,0.2 is not allowed: give the knob's values on the command line as they are: "
            "lr=0.1,0.2"
        ),
    ),
    (  # a sweep's value, without -m or a search
        "lr=choice(0.01,0.1)",
        (
            "Sweep parameters 'lr=choice(0.01,0.1)' requires --multirun: add -m to sweep over its values, or "
            "hparams_search=optuna to search it"
        ),
    ),
    (  # only a search samples an interval
        "lr=interval(0.01,0.1)",
        "Sweep parameters 'lr=interval(0.01,0.1)' requires --multirun: search its interval with hparams_search=optuna",
    ),
    ("seed=range(1,4)", "Sweep parameters 'seed=range(1,4)' requires --multirun: add -m to run each seed"),  # no search
    (
        "visuals=false",
        "visuals=false is not allowed: visuals holds several keys; set one of them, e.g. visuals.enabled=",
    ),
    ("optimizer=null", "optimizer=null is not allowed: choose one of the group's options (`python -m mlp_exp --help`"),
    (  # a run dir's name, pasted as it is
        "hydra.run.dir=outputs/runs/2026-12-02_05-13-16-22322_epochs=2,lr=0.1",
        "hydra.run.dir=outputs/runs/2026-12-02_05-13-16-22322_epochs=2,lr=0.1 is not a valid override (",
    ),
    (
        "hiddens=(512,256)",
        (
            "hiddens=(512,256) is not a valid override (Error parsing override 'hiddens=(512,256)'); "
            "write a list in brackets: 'hiddens=[512,256]'"
        ),
    ),
    ("lr=0.1)", "lr=0.1) is not a valid override (Error parsing override 'lr=0.1)'); write key=value, e.g."),
    (
        "dataset.val_fraction=0.00001",
        "dataset.val_fraction=1e-05 is not allowed: use 0 (none held out) or a number from 0.0001 to below 1, e.g. 0.1",
    ),  # refused before a run dir is made, as every value no run can use
    (
        "hydra.run.dir=runs/(v2)",
        """hydra.run.dir=runs/(v2) is not a valid override (mismatched input '(' expecting <EOF>); quote a value with \
parentheses in it: 'hydra.run.dir="runs/(v2)"'""",
    ),
    ("hydra.job.chdir=maybe", "hydra.job.chdir=maybe is not allowed: use true or false"),
    ("hydra.sweeper.max_batch_size=abc", "hydra.sweeper.max_batch_size=abc is not allowed: use an int"),
    (  # Hydra's keys: the node's own suggested, and Hydra's config pointed to
        "hydra.run.dri=x",
        (
            "hydra.run.dri=x is not allowed: hydra.run has no key dri; did you mean hydra.run.dir? "
            "(`python -m mlp_exp --cfg hydra` lists Hydra's keys)"
        ),
    ),
    (  # a key of a launcher that is not the one in use
        "hydra.launcher.n_jobs=2",
        "hydra.launcher.n_jobs=2 is not allowed: hydra.launcher has no key n_jobs; it comes with hydra/launcher=joblib",
    ),
    (
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.n_trials=3 is not allowed: hydra.sweeper has no key n_trials; it comes with hparams_search=optuna",
    ),
    (
        "hydra.sweeper.n_trial=3",
        (
            "hydra.sweeper.n_trial=3 is not allowed: hydra.sweeper has no key n_trial; "
            "did you mean hydra.sweeper.n_trials, which comes with hparams_search=optuna?"
        ),
    ),
    ("hydra.foo.bar=1", "hydra.foo.bar=1 is not allowed: hydra has no key foo "),  # the override as given
    (  # slurm's own key, though joblib has one like it (timeout)
        "hydra.launcher.timeout_min=5",
        "hydra.launcher.timeout_min=5 is not allowed: hydra.launcher has no key timeout_min; it comes with "
        + "hydra/launcher=slurm",
    ),
]


@pytest.mark.parametrize("override, message", COMPOSE_ERRORS)
def test_a_bad_override_is_one_line_naming_key_value_and_what_is_allowed(
    override, message, monkeypatch, capsys, tmp_path
):
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    code, out, err = run_main(monkeypatch, capsys, f"hydra.run.dir={tmp_path / 'run'}", override)

    assert code == 2
    assert out == [] and len(err) == 1 and err[0].startswith(f"error: {message}")
    assert not (tmp_path / "run").exists()  # rejected before a run dir was made
    assert "HYDRA_FULL_ERROR" not in os.environ  # borrowed while Hydra ran, then given back


@pytest.mark.parametrize(
    "args, key",
    [
        (["epochs=2", "epochs=1"], "epochs"),  # Hydra would train 1 epoch in a dir named epochs=1,epochs=2
        (["-m", "lr=0.1", "lr=0.2"], "lr"),
        (["optimizer=adam", "optimizer=sgd"], "optimizer"),
        (["lr=0.1", "lr=0.1"], "lr"),
    ],
)
def test_a_key_given_twice_is_refused(args, key, monkeypatch, capsys, tmp_path):
    code, out, err = run_main(monkeypatch, capsys, *args, f"hydra.run.dir={tmp_path / 'run'}")
    overrides = " ".join(arg for arg in args if arg != "-m")
    assert code == 2 and out == []
    assert err == [
        f"error: {overrides} is not allowed: {key} is given twice, and only the last would count; give it once"
    ]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "args, shown",
    [
        (["dataset=mnist", "dataset.name=mnist"], "  name: mnist"),  # a group and a key of it
        (["~lr", "+lr=0.2"], "lr: 0.2"),  # Hydra's way to replace a node
    ],
)
def test_overrides_of_one_node_that_are_not_a_repeat_are_taken(args, shown, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["mlp_exp", "--cfg", "job", *args])
    cli.main()
    out, err = capsys.readouterr()
    assert err == "" and shown in out.splitlines()


@pytest.mark.parametrize("args", [["-m", "lr=0.1,abc"], ["--cfg", "job", "lr=abc"]])
def test_sweeps_and_cfg_report_bad_overrides_the_same_way(args, monkeypatch, capsys, tmp_path):
    code, _, err = run_main(monkeypatch, capsys, *args, f"hydra.sweep.dir={tmp_path}")
    assert code == 2 and err == ["error: lr=abc is not allowed: use a number"]
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]  # no job ran


def test_a_swept_group_with_a_plus_is_refused_before_the_sweep_dir_is_made(monkeypatch, capsys, tmp_path):
    sweep_dir = tmp_path / "sweep"
    code, _, err = run_main(monkeypatch, capsys, "-m", "+optimizer=adam,sgd", f"hydra.sweep.dir={sweep_dir}")
    assert code == 2 and err == [
        (
            "error: +optimizer=adam,sgd is not allowed: optimizer is in conf/config.yaml's defaults already; choose "
            "its option without the +: optimizer=adam,sgd"
        )
    ]
    assert not sweep_dir.exists()


@pytest.mark.parametrize(
    "args, advice",
    [
        (["-m", "seed=1,2"], "so drop -m and give one value per key"),
        (["seed=1,2"], "; give one value"),
        (["lr=choice(0.1,0.5)"], "; give one value"),
        (
            ["hparams_search=optuna", "lr=choice(0.1,0.5)"],
            "--cfg hydra the search's space (hydra.sweeper.params) without the command line's values; drop the value",
        ),
    ],
)
def test_cfg_says_it_shows_one_runs_config(args, advice, monkeypatch, capsys):
    code, _, err = run_main(monkeypatch, capsys, "--cfg", "job", *args)
    assert code == 2 and len(err) == 1 and "--cfg shows " in err[0] and err[0].endswith(advice)


def test_a_value_with_an_equals_sign_is_told_how_to_quote_it(monkeypatch, capsys):
    code, _, err = run_main(monkeypatch, capsys, "hydra.run.dir=outputs/runs/a_epochs=2")
    assert code == 2 and err[0].endswith(
        """; quote a value with = in it: 'hydra.run.dir="outputs/runs/a_epochs=2"' """
        "(see https://hydra.cc/docs/1.3/advanced/override_grammar/basic/)"
    )


@pytest.mark.parametrize(
    "preset, message",
    [
        (
            "# @package _global_\nepocs: 3\n",
            "experiment/mine.yaml: epocs is not allowed: mlp_exp has no key epocs; did you mean epochs?",
        ),
        ("# @package _global_\nlr: fast\n", "experiment/mine.yaml: lr=fast is not allowed: use a number"),
        (  # a preset of one's own without the first line conf/experiment/'s have
            "epochs: 3\n",
            (
                "experiment/mine.yaml puts its keys under experiment, not at the top level: make its first line "
                "`# @package _global_`, as in conf/experiment/"
            ),
        ),
        (
            "# @package _global_\nhiddens: [128, 64\n",
            (
                "cannot read {conf}/experiment/mine.yaml: while parsing a flow sequence, expected ',' or ']', but got "
                "'<stream end>' at line 3, column 1"
            ),
        ),
        (  # Hydra's own error, which says it all but for its "In 'experiment/mine': "
            "# @package _global_\ndefaults:\n  - override /optimizr: adam\n",
            "experiment/mine.yaml: Could not override 'optimizr'. No match in the defaults list.",
        ),
        (  # a group's option chosen as conf/config.yaml's defaults list does, but in the file's body
            "# @package _global_\noptimizer: adam\nlr: 0.001\n",
            (
                "experiment/mine.yaml: `optimizer: adam` is not allowed: a config file chooses the optimizer in its "
                "defaults list, as `defaults: [{{override /optimizer: adam}}]`"
            ),
        ),
        (
            "# @package _global_\nvisuals: false\n",
            (
                "experiment/mine.yaml: `visuals: false` is not allowed: visuals holds several keys; set them, as "
                "`visuals: {{enabled: ...}}`"
            ),
        ),
        (  # which Hydra reads under `experiment.` too, and then finds no optimizer there to override
            "defaults:\n  - override /optimizer: adam\nlr: 0.001\n",
            (
                "experiment/mine.yaml puts its keys under experiment, not at the top level: make its first line "
                "`# @package _global_`, as in conf/experiment/"
            ),
        ),
        (
            "# @package _global_\ndefaults:\n  - optimizer: adam\n",
            (
                "experiment/mine.yaml: `- optimizer: adam` in its defaults list is looked for in experiment/optimizer/; "
                "choose the optimizer with `- override /optimizer: adam`"
            ),
        ),
        (
            "# @package _global_\noptimizer.weight_decay: 0.01\n",
            (
                "experiment/mine.yaml: `optimizer.weight_decay: ...` is not allowed: in a config file, nest it: "
                "`optimizer: {{weight_decay: ...}}`"
            ),
        ),
        ("# @package _global_\nepochs: 2.0\n", "experiment/mine.yaml: epochs=2.0 is not allowed: use an int"),
        (
            "# @package _global_\noptimizer: [adam]\n",
            (
                "experiment/mine.yaml: `optimizer: ['adam']` is not allowed: a config file chooses the optimizer in "
                "its defaults list, as `defaults: [{{override /optimizer: OPTION}}]`"
            ),
        ),
        (  # a plain value for one of Hydra's own nodes: OmegaConf's words, but in one line naming the file
            "# @package _global_\nhydra:\n  job: foo\n",
            "experiment/mine.yaml: Merge error: str is not a subclass of JobConf. value: foo",
        ),
    ],
    ids=[
        "unknown-key",
        "wrong-type",
        "no-package-line",
        "not-yaml",
        "hydras-own-word",
        "group-option",
        "keys-value",
        "no-package-line-with-defaults",
        "defaults-without-override",
        "dotted-key",
        "whole-float-for-an-int",
        "group-option-not-a-name",
        "hydras-own-node",
    ],
)
def test_a_config_file_hydra_cannot_compose_is_named_with_the_key_in_one_line(
    monkeypatch, capsys, tmp_path, preset, message
):
    """Hydra says only "In 'experiment/mine': ConfigKeyError raised while composing config:", or a YAML traceback."""
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "mine.yaml").write_text(preset)
    code, _, err = run_main(monkeypatch, capsys, "--config-dir", str(tmp_path), "experiment=mine", "--cfg", "job")
    assert code == 2 and len(err) == 1 and err[0].startswith("error: " + message.format(conf=tmp_path))


@pytest.mark.parametrize(
    "args, told",
    [
        (["lr=0.1,", "0.3"], "and 0.3 after it is an argument of its own; leave the space out: lr=0.1,0.3"),
        (
            ["lr=0.1,", "0.3,", "1", "epochs=1"],
            "and 0.3, 1 after it are arguments of their own; leave the spaces out: lr=0.1,0.3,1",
        ),
    ],
)
def test_a_sweeps_values_split_by_a_space_after_a_comma_are_told_to_leave_it_out(
    monkeypatch, capsys, tmp_path, args, told
):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(monkeypatch, capsys, "-m", *args)  # `-m lr=0.1, 0.3`
    assert code == 2
    assert err == [f"error: lr=0.1, is not a valid override: it ends in a comma, {told}"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "path, text, override, message",
    [
        (  # a group's option file with a preset's first line
            "optimizer/mine.yaml",
            "# @package _global_\nname: sgd\nmomentum: 0.5\n",
            "optimizer=mine",
            (
                "optimizer/mine.yaml puts its keys at the top level, not under optimizer: take its "
                "`# @package _global_` line out, as conf/optimizer/ has none"
            ),
        ),
        (  # a group of the user's own, which the schema does not have
            "extra/bad.yaml",
            "# @package _global_\nlrr: 0.1\n",
            "+extra=bad",
            (
                "extra/bad.yaml: lrr is not allowed: mlp_exp has no key lrr; did you mean lr? (`python -m mlp_exp --cfg "
                "job` lists them all)"
            ),
        ),
    ],
)
def test_a_config_file_of_another_group_is_named_with_its_fix(
    monkeypatch, capsys, tmp_path, path, text, override, message
):
    (tmp_path / path).parent.mkdir()
    (tmp_path / path).write_text(text)
    code, _, err = run_main(monkeypatch, capsys, "--config-dir", str(tmp_path), override, "--cfg", "job")
    assert code == 2 and err == [f"error: {message}"]


@pytest.mark.parametrize(
    "override, fix",
    [
        (
            "dataset.root=~/data",
            """write the path from / (dataset.root=$HOME/data), or quote it: 'dataset.root="~/data"'""",
        ),
        ("hydra.run.dir=~/runs/a", "write the path from / (hydra.run.dir=$HOME/runs/a) "),  # Hydra's keys keep a ~
    ],
)
def test_a_path_under_the_home_dir_is_told_how_to_write_it(monkeypatch, capsys, override, fix):
    """The shell leaves a `~` after `=`, and Hydra's grammar takes one only before a key (to delete it)."""
    code, _, err = run_main(monkeypatch, capsys, override)
    assert code == 2 and len(err) == 1 and f"; {fix}" in err[0]


@pytest.mark.parametrize(
    "args, fix", [(["epochs", "2"], "epochs=2"), (["lr"], "lr=VALUE"), (["optimizer", "adam"], "optimizer=adam")]
)
def test_a_knob_without_its_equals_sign_is_told_the_override_to_type(monkeypatch, capsys, args, fix):
    code, _, err = run_main(monkeypatch, capsys, *args)
    assert code == 2 and len(err) == 1 and f"; write key=value, as {fix} (see https://hydra.cc/" in err[0]


def test_a_word_that_is_no_knob_gets_no_made_up_override(monkeypatch, capsys):
    code, _, err = run_main(monkeypatch, capsys, "foo", "bar")
    assert code == 2 and len(err) == 1 and "foo=" not in err[0]


@pytest.mark.parametrize("module, args, shown", [("compare", ["outputs"], "outputs"), ("resume", [], "DIR")])
def test_compare_or_resume_typed_as_a_knob_is_told_its_command(monkeypatch, capsys, module, args, shown):
    code, _, err = run_main(monkeypatch, capsys, module, *args)
    assert code == 2
    assert err == [
        f"error: {module} is not a knob but a command of its own: {command('python', '-m', f'mlp_exp.{module}')} {shown}"
    ]


@pytest.mark.parametrize("flag", ["-m", "--multirun", "--multi"])
def test_dash_m_after_the_overrides_still_sweeps(monkeypatch, capsys, tmp_path, flag):
    sweep_dir = tmp_path / "sweep"
    code, _, err = run_main(monkeypatch, capsys, "epochs=0", flag, "lr=0.1,0.2", f"hydra.sweep.dir={sweep_dir}")
    assert code == 2 and err == ["error: epochs=0 is not allowed: use a positive int, e.g. epochs=10"]  # as a sweep
    assert not sweep_dir.exists()


@pytest.mark.parametrize(
    "module, args, problem",
    [
        (resume, ["--device", "gpu", "run"], "argument --device: invalid choice: 'gpu' (choose from 'auto', 'cpu'"),
        *(
            (resume, ["--threads", count, "run"], f"argument --threads: '{count}' is not a whole number from 1 to 1024")
            for count in ("0", "100000")  # tens of thousands crash libgomp
        ),
        (compare, [], "the following arguments are required: DIR"),
    ],
)
def test_a_mistake_on_resumes_or_compares_command_line_is_one_line(capsys, module, args, problem):
    with pytest.raises(SystemExit) as exit_:
        module.main(args)
    assert exit_.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {problem}")
    assert line.endswith(f"; `{command('python', '-m', module.__name__, '--help')}` says more")


@pytest.mark.parametrize(
    "arg, fix",
    [
        ("lr=0.1,0.05", "add -m to sweep over the values"),
        ("optimizer=adam,sgd", "add -m to sweep over the values"),  # a list of options is refused even with []
        ("hiddens=512,256", "add -m to sweep over the values, or write one list as 'hiddens=[512,256]'"),
        ("hiddens=[512],[256]", "add -m to sweep over the values"),  # lists already: no list of lists
    ],
)
def test_a_sweep_list_without_m_says_to_add_it(monkeypatch, capsys, arg, fix):
    code, _, err = run_main(monkeypatch, capsys, arg)
    assert code == 2 and err == [f"error: Ambiguous value for argument '{arg}': {fix}"]


WIDTHS = "a positive int (hiddens=256) or a non-empty list of positive ints ('hiddens=[512,256]')"
EMPTY_DIR = "is not allowed: it would write into the working dir; give a dir, or leave it out"


# Overrides that compose, but would not do what they say.
@pytest.mark.parametrize(
    "args, message",
    [
        *(
            (
                [*dash_m, "sweep=widths,lrs"],  # without -m, Hydra's "ambiguous" value: -m would not help
                "sweep=widths,lrs is not allowed: each sweep preset is a sweep of its own; run one at a time",
            )
            for dash_m in (["-m"], [])
        ),
        (["hydra.run.dir="], f"hydra.run.dir= {EMPTY_DIR}"),
        (["hydra.run.dir=''"], f"hydra.run.dir='' {EMPTY_DIR}"),
        (["-m", "seed=1,2", "hydra.sweep.dir= "], f"hydra.sweep.dir=  {EMPTY_DIR}"),
        (
            ["-m", "seed=1,2", "hydra.sweep.subdir=same"],
            (
                "hydra.sweep.subdir=same is not allowed: every job of the sweep would train in that one dir; name each "
                "job's dir after it, e.g. 'hydra.sweep.subdir=${hydra.job.num}', or leave it out"
            ),
        ),
        *(
            (
                [*flags, "hydra.output_subdir=null"],
                (
                    "hydra.output_subdir=null is not allowed: mlp_exp resumes and compares a run from the config Hydra "
                    "saves in its .hydra/ dir; leave it out"
                ),
            )
            for flags in ([], ["-m", "seed=1,2"])
        ),
        *(
            ([setting], f"{setting} is not allowed in a single run, which it would not change: add -m to sweep")
            for setting in ("hydra/launcher=joblib", "hydra.sweeper.max_batch_size=10")
        ),
        (
            ["hydra.sweep.dir=elsewhere"],
            (
                "hydra.sweep.dir=elsewhere is not allowed in a single run, which it would not change: add -m to sweep, "
                "or give the run's dir: hydra.run.dir=elsewhere"
            ),
        ),
        (
            ["-m", "seed=1,2", "hydra/launcher=joblib", "hydra.launcher.n_jobs=0"],
            "hydra.launcher.n_jobs=0 is not allowed: give the number of jobs to run side by side, or -1 for one per core",
        ),
        (
            ["hparams_search=optuna", "hydra.sweeper.n_trials=0"],
            "hydra.sweeper.n_trials=0 is not allowed: give the number of trials, 1 or more",
        ),
        (
            ["hparams_search=optuna", "hydra.sweeper.n_jobs=0"],
            "hydra.sweeper.n_jobs=0 is not allowed: give the number of trials asked for at once, 1 or more",
        ),
        (  # a search of the user's own, without the preset's direction
            ["-m", "hydra/sweeper=optuna", "hydra/sweeper/sampler=seeded_tpe", "lr=interval(0.01,0.1)"],
            (
                "hydra/sweeper=optuna minimizes its objective unless told otherwise, and a trial's is its final "
                "accuracy: give hydra.sweeper.direction=maximize, or search with hparams_search=optuna, which does"
            ),
        ),
        (
            ["hparams_search=optuna", "hydra.sweeper.direction=max"],
            (
                "hydra.sweeper.direction=max is not allowed: a search has one objective, a trial's final accuracy; "
                "give hydra.sweeper.direction=maximize (or minimize, to find the worst settings)"
            ),
        ),
        (
            ["hparams_search=optuna", "lr=interval(1,0.1)"],
            (
                "lr=interval(1,0.1) is not allowed in a search: The low value must be smaller than or equal to the "
                "high value (low=1.0, high=0.1)"
            ),
        ),
        (
            ["hparams_search=optuna", "hiddens=tag(log,interval(0,512))"],
            (
                "hiddens=tag(log,interval(0,512)) is not allowed in a search: The low value must be larger than 0 for "
                "a log distribution (low=0.0, high=512.0)"
            ),
        ),
        # A swept value Hydra cannot compose would stop the sweep where its job comes, after the jobs before it.
        (["-m", "lr=0.1,abc"], "lr=abc is not allowed: use a number"),
        (["-m", "seed=range(1,4,0)"], "seed=range(1,4,0) is not allowed: give a range a step other than 0"),
        (
            ["-m", "seed=range(5,1)"],
            (
                "seed=range(5,1) is not allowed: it has no values; a range runs from its start up to its stop, not "
                "including it, by its step"
            ),
        ),
        (
            ["-m", "optimizer=glob(nosuch*)"],
            f"optimizer=glob(nosuch*) is not allowed: it matches none of optimizer's options ({OPTIMIZER_OPTIONS})",
        ),
        (
            ["-m", "hiddens=glob(*)"],
            (
                "hiddens=glob(*) is not allowed: a glob picks among a config group's options, and hiddens is no "
                "group; list its values"
            ),
        ),
        (
            ["hparams_search=optuna", "optimizer=glob(a*)"],
            (
                "optimizer=glob(a*) is not allowed in a search: list the options to search, as "
                "optimizer=choice(adam,adamw)"
            ),
        ),
        (["-m", "activation=relu,ReLU"], f"activation=ReLU is not allowed: use one of {ACTIVATIONS}"),
        # Hydra's own check before the first job comes after the sweep dir is made, and stops every resume too.
        (["-m", "optimizer=sgd,nosuch"], f"optimizer=nosuch is not allowed: use one of {OPTIMIZER_OPTIONS}"),
        # A swept key no run has, misspelled or added with +: found in the first job's compose, or in every job.
        *((["-m", f"{key}=16,32"], unknown_key_message("hiddenz", "16,32")) for key in ("hiddenz", "+hiddenz")),
        (["-m", "+dataset.foo=1,2"], unknown_key_message("dataset.foo", "1,2")),
        (["hparams_search=optuna", "lrr=interval(0.01,0.1)"], unknown_key_message("lrr", "interval(0.01,0.1)")),
        # A value of the right type that no run can use: its job would fail after those before it trained.
        (["-m", "hiddens=64,0"], f"hiddens=0 is not allowed: use {WIDTHS}"),
        (["-m", "hiddens=[32,32],[64,0]"], f"hiddens=[64,0] is not allowed: use {WIDTHS}"),
        (["-m", "epochs=range(0,2)"], "epochs=0 is not allowed: use a positive int, e.g. epochs=10"),
        (  # Optuna draws an int from range(a, b) up to b itself
            ["hparams_search=optuna", "visuals.predictions=range(190,201)"],
            "visuals.predictions=201 is not allowed: use an int from 1 to 200, e.g. visuals.predictions=48",
        ),
        (["hparams_search=optuna", "lr=choice(0.1,-1)"], "lr=-1 is not allowed: use a positive number, e.g. lr=0.1"),
        (  # a swept group's option composed with what every job gets: its adam jobs, before its sgd ones ran
            ["-m", "optimizer=sgd,adam", "optimizer.momentum=0.5"],
            (
                "optimizer.momentum=0.5 is not allowed: use 0 with adam or adamw: momentum is SGD's (Adam's betas "
                "are fixed at (0.9, 0.999))"
            ),
        ),
        (
            ["-m", "optimizer=adam", "optimizer.momentum=0,0.5"],
            (
                "optimizer.momentum=0.5 is not allowed: use 0 with adam or adamw: momentum is SGD's (Adam's betas "
                "are fixed at (0.9, 0.999))"
            ),
        ),
        (  # every job would fail on it; refused before the datasets are read and the sweep dir is made
            ["-m", "seed=1,2", "~optimizer"],
            "optimizer has no value: choose one of its options: optimizer=OPTION (`python -m mlp_exp --help` lists them)",
        ),
    ],
)
def test_overrides_that_would_not_do_what_they_say_are_refused_before_anything_is_written(
    args, message, monkeypatch, capsys, tmp_path
):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(monkeypatch, capsys, *args)
    assert code == 2 and err == [f"error: {message}"] and out == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [["-m", "sweep=widths,lrs"], ["hydra.run.dir="]])
def test_the_real_command_refuses_them_before_paying_for_torchs_import(args, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")  # every module imported, on stderr
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "hydra" in imported and "torch" not in imported
    errors = [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {args[-1]} is not allowed"), errors


def users_search_path(tmp_path) -> str:
    """An override adding a search path that holds an optimizer option of the user's own, `gentle`."""
    (tmp_path / "my_conf" / "optimizer").mkdir(parents=True)
    (tmp_path / "my_conf" / "optimizer" / "gentle.yaml").write_text("name: sgd\nmomentum: 0.5\n")
    return f"hydra.searchpath=[file://{tmp_path / 'my_conf'}]"


@pytest.mark.parametrize("swept", [["optimizer=sgd,gentle"], ["optimizer=gentle", "lr=0.1,0.2"]])
def test_an_option_from_the_users_own_search_path_sweeps_or_stays_fixed(monkeypatch, tiny_root, tmp_path, swept):
    sweep_dir = tmp_path / "sweep"
    args = [
        "-m",
        *tiny_overrides(tiny_root, *FAST),
        *swept,
        users_search_path(tmp_path),
        f"hydra.sweep.dir={sweep_dir}",
    ]
    monkeypatch.setattr(sys, "argv", ["mlp_exp", *args])
    cli.main()
    assert [metrics_of(job)["status"] for job in sorted(sweep_dir.glob("[01]_*"))] == ["completed", "completed"]


def test_a_sweep_presets_fixed_option_is_what_its_swept_values_are_checked_with(monkeypatch, tiny_root, tmp_path):
    # The experiment chooses adam; the sweep preset fixes sgd for its jobs, whose momenta are then SGD's.
    for group, text in (
        ("experiment", "# @package _global_\ndefaults:\n  - override /optimizer: adam\nlr: 0.001\n"),
        (
            "sweep",
            (
                "# @package _global_\nhydra:\n  mode: MULTIRUN\n  sweeper:\n    params:\n"
                "      optimizer: sgd\n      optimizer.momentum: 0,0.9\n"
            ),
        ),
    ):
        (tmp_path / "my_conf" / group).mkdir(parents=True)
        (tmp_path / "my_conf" / group / "mine.yaml").write_text(text)
    sweep_dir = tmp_path / "sweep"
    args = [f"--config-dir={tmp_path / 'my_conf'}", "experiment=mine", "sweep=mine", f"hydra.sweep.dir={sweep_dir}"]
    monkeypatch.setattr(sys, "argv", ["mlp_exp", *args, *tiny_overrides(tiny_root, *FAST, "epochs=1")])
    cli.main()
    assert [metrics_of(job)["hparams"]["momentum"] for job in sorted(sweep_dir.glob("[01]_*"))] == [0, 0.9]


def test_a_sweep_preset_of_the_users_own_without_multirun_is_refused_as_a_single_run(monkeypatch, capsys, tmp_path):
    (tmp_path / "my_conf" / "sweep").mkdir(parents=True)
    (tmp_path / "my_conf" / "sweep" / "lrs2.yaml").write_text(
        "# @package _global_\nhydra:\n  sweeper:\n    params:\n      lr: 0.01,0.1\n"  # no `mode: MULTIRUN`
    )
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(monkeypatch, capsys, f"--config-dir={tmp_path / 'my_conf'}", "sweep=lrs2")
    assert code == 2
    assert err == [
        (
            "error: sweep=lrs2 is not allowed in a single run: run it with -m, or set `hydra: mode: MULTIRUN` in the "
            "preset, as those of conf/sweep/ do"
        )
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_conf"]  # no run dir


@pytest.mark.parametrize(
    "value, message",
    [
        (
            "[0.01, 0.1]",
            (
                "lr=[0.01, 0.1] is not allowed: use a number; hydra.sweeper.params lists a sweep's values without "
                "brackets: lr: 0.01,0.1"
            ),
        ),
        ("abc", "lr=abc is not allowed: use a number"),
        ("-1", "lr=-1 is not allowed: use a positive number, e.g. lr=0.1"),  # composes, but no run can use it
    ],
)
def test_a_value_every_job_of_a_users_sweep_preset_gets_is_tried_before_the_sweep_starts(
    monkeypatch, capsys, tmp_path, value, message
):
    (tmp_path / "my_conf" / "sweep").mkdir(parents=True)
    preset = f"# @package _global_\nhydra:\n  mode: MULTIRUN\n  sweeper:\n    params:\n      lr: {value}\n"
    (tmp_path / "my_conf" / "sweep" / "mine.yaml").write_text(preset + "      hiddens: 16,32\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(monkeypatch, capsys, f"--config-dir={tmp_path / 'my_conf'}", "sweep=mine")
    assert code == 2 and err == [f"error: {message}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_conf"]  # no sweep dir


def test_a_value_no_run_can_use_names_the_config_file_of_the_users_own_it_came_from(
    monkeypatch, capsys, tiny_root, tmp_path
):
    conf = tmp_path / "my_conf"
    for path, text in (
        ("experiment/rough.yaml", "# @package _global_\noptimizer:\n  momentum: 1.5\nlr: 0.05\n"),
        ("optimizer/backwards.yaml", "name: sgd\nmomentum: -0.5\n"),
        (
            "sweep/back.yaml",
            "# @package _global_\nhydra:\n  mode: MULTIRUN\n  sweeper:\n    params:\n      optimizer: backwards\n      seed: 1,2\n",
        ),
        ("extra/a.yaml", "# @package _global_\nlr: 0.05\n"),  # a group of the user's own, not in the defaults
        ("extra/b.yaml", "# @package _global_\noptimizer:\n  momentum: 1.5\n"),
        ("experiment/narrow.yaml", "# @package _global_\nhiddens: [512, 0]\n"),
    ):
        (conf / path).parent.mkdir(parents=True, exist_ok=True)
        (conf / path).write_text(text)
    rough, backwards = conf / "experiment" / "rough.yaml", conf / "optimizer" / "backwards.yaml"
    monkeypatch.chdir(tmp_path)
    for args, message in (
        (["experiment=rough"], f"optimizer.momentum=1.5 (set in {rough}) is not allowed"),
        (["experiment=rough", "optimizer=adam"], f"optimizer.momentum=1.5 (set in {rough}) is not allowed"),
        (["optimizer=backwards"], f"optimizer.momentum=-0.5 (set in {backwards}) is not allowed"),
        # Typed on the command line, the last word: no file to name.
        (["experiment=rough", "optimizer.momentum=2"], "optimizer.momentum=2 is not allowed"),
        # In a sweep, each swept option is composed before any job runs.
        (["-m", "optimizer=sgd,backwards"], f"optimizer.momentum=-0.5 (set in {backwards}) is not allowed"),
        (["-m", "experiment=deeper,rough", "seed=1,2"], f"optimizer.momentum=1.5 (set in {rough}) is not allowed"),
        (["sweep=back"], f"optimizer.momentum=-0.5 (set in {backwards}) is not allowed"),  # every job's option
        # A group added with + and swept: each option composed as the job will be.
        (["-m", "+extra=a,b"], f"optimizer.momentum=1.5 (set in {conf / 'extra' / 'b.yaml'}) is not allowed"),
    ):
        code, _, err = run_main(monkeypatch, capsys, f"--config-dir={conf}", *args, *tiny_overrides(tiny_root, *FAST))
        assert code == 2 and err == [f"error: {message}: use a number in [0, 1)"], args
        assert not (tmp_path / "outputs").exists(), args  # no run or sweep dir

    code, _, err = run_main(monkeypatch, capsys, f"--config-dir={conf}", "experiment=narrow")
    narrow = conf / "experiment" / "narrow.yaml"
    assert code == 2 and err == [f"error: hiddens=[512,0] (set in {narrow}) is not allowed: use {HIDDENS_ALLOWED}"]

    # The user's folder as a search path, and a value set above the key on the command line (the user's word).
    vis = "# @package _global_\nvisuals:\n  every: -1\n"
    (conf / "experiment" / "vis.yaml").write_text(vis)
    every = "visuals.every=-1 {}is not allowed: use 0 (figures at the end only) or a positive int"
    for args, message in (
        (["experiment=vis"], every.format(f"(set in {conf / 'experiment' / 'vis.yaml'}) ")),
        (["experiment=vis", "visuals={every:-1,enabled:true}"], every.format("")),
    ):
        code, _, err = run_main(monkeypatch, capsys, f"hydra.searchpath=[file://{conf}]", *args)
        assert code == 2 and err == [f"error: {message}"], args


def test_a_config_file_of_the_users_own_that_mlp_exps_conf_shadows_is_named(monkeypatch, capsys, tiny_root, tmp_path):
    (tmp_path / "my_conf" / "optimizer").mkdir(parents=True)
    (tmp_path / "my_conf" / "optimizer" / "sgd.yaml").write_text("name: sgd\nmomentum: 0.5\n")  # a copy, edited
    (tmp_path / "my_conf" / "optimizer" / "gentle.yaml").write_text("name: sgd\nmomentum: 0.5\n")
    monkeypatch.chdir(tmp_path)
    args = (f"--config-dir={tmp_path / 'my_conf'}", *tiny_overrides(tiny_root, "epochs=1"), "hydra.run.dir=run")
    monkeypatch.setattr(sys, "argv", ["mlp_exp", *args])
    cli.main()
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        f"{tmp_path / 'my_conf' / 'optimizer' / 'sgd.yaml'} is not read: mlp_exp's own conf/ comes first in the "
        "search path and has files of the same names; give yours other names (optimizer=my_sgd)"
    )
    assert read_metrics(tmp_path / "run")["hparams"]["momentum"] == 0  # mlp_exp's sgd, as said

    # mlp_exp's own conf/ given again, and a copy of it in its place (--config-path, whose files Hydra reads).
    shutil.copytree(config.CONF_DIR, tmp_path / "copy")
    (tmp_path / "copy" / "optimizer" / "sgd.yaml").write_text("name: sgd\nmomentum: 0.5\n")
    for i, flag in enumerate((f"--config-dir={config.CONF_DIR}", f"--config-path={tmp_path / 'copy'}")):
        args = (flag, *tiny_overrides(tiny_root, "epochs=1"), f"hydra.run.dir={tmp_path / f'again{i}'}")
        monkeypatch.setattr(sys, "argv", ["mlp_exp", *args])
        cli.main()
        assert "is not read" not in capsys.readouterr().out


def test_an_unknown_option_is_told_the_options_of_the_users_search_path_too(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(monkeypatch, capsys, "-m", "optimizer=gentle,nosuch", users_search_path(tmp_path))
    assert code == 2
    assert err == ["error: optimizer=nosuch is not allowed: use one of adam, adamw, gentle, momentum, sgd"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_conf"]  # no sweep dir


def test_a_value_that_resolves_only_in_the_job_is_left_to_the_job(monkeypatch, capsys, tiny_root, tmp_path):
    sweep_dir = tmp_path / "sweep"
    args = [
        "-m",
        *tiny_overrides(tiny_root, *FAST),
        "lr=0.1,0.2",
        "seed=${hydra:job.num}",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    monkeypatch.setattr(sys, "argv", ["mlp_exp", *args])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Hydra turns an exception in a callback into a warning, and skips the rest
        cli.main()
    assert [metrics_of(job)["status"] for job in sorted(sweep_dir.glob("[01]_*"))] == ["completed", "completed"]
    assert (sweep_dir / "multirun.yaml").is_file()  # the sweep callback's record, which its resume reads
    assert sorted(run.hparams["seed"] for run in compare.find_runs(sweep_dir)) == [0, 1]  # each job's number

    # A job resumed alone resolves it as it did in the sweep, from Hydra's record of the job.
    (job,) = sweep_dir.glob("1_*")
    (job / "metrics.json").write_text(json.dumps({**metrics_of(job), "status": "interrupted"}))
    resume.main([str(job)])
    assert metrics_of(job)["status"] == "completed"


def test_a_bad_value_beside_one_only_the_job_can_resolve_is_still_refused_before_the_run_dir(
    monkeypatch, capsys, tmp_path
):
    run_dir = tmp_path / "run"
    args = ["lr=-1", "seed=${hydra:job.num}", f"hydra.run.dir={run_dir}"]
    code, _, err = run_main(monkeypatch, capsys, *args)
    assert code == 2 and err == ["error: lr=-1 is not allowed: use a positive number, e.g. lr=0.1"]
    assert not run_dir.exists()


@pytest.mark.parametrize(
    "args, line",
    [
        (["--epochs=2"], "--epochs=2 is not an option: mlp_exp's knobs are set without dashes, as epochs=2"),
        (["--lr", "0.1"], "--lr is not an option: mlp_exp's knobs are set without dashes, as lr=0.1"),
        (["--lr", "-0.1"], "--lr is not an option: mlp_exp's knobs are set without dashes, as lr=-0.1"),
        (["--lr", "-m"], "--lr is not an option: mlp_exp's knobs are set without dashes, as lr=VALUE"),
        (
            ["--batch-size"],
            "--batch-size is not an option: mlp_exp's knobs are set without dashes, as batch_size=VALUE",
        ),
    ],
)
def test_a_knob_given_as_a_dashed_option_is_one_line_with_its_override(monkeypatch, capsys, args, line):
    code, out, err = run_main(monkeypatch, capsys, *args)  # Hydra's parser would print its whole usage
    assert code == 2 and out == [] and err == [f"error: {line}"]


def test_a_swept_value_that_only_some_jobs_cannot_use_fails_those_jobs_alone(monkeypatch, capsys, tiny_root, tmp_path):
    # The sweep's config holds adam's name, which the sweep replaces in each job: momentum 0.9 is left to the jobs,
    # and only those that keep adam refuse it.
    sweep_dir = tmp_path / "sweep"
    swept = ["optimizer=adam", "optimizer.name=sgd,adam", "optimizer.momentum=0,0.9"]
    code, _, err = run_main(
        monkeypatch, capsys, "-m", *swept, *tiny_overrides(tiny_root, *FAST, "epochs=1"), f"hydra.sweep.dir={sweep_dir}"
    )
    assert code == 2 and err[-1].startswith("error: 1 of 4 jobs did not complete (1 failed)")
    statuses = {job.name.split("_")[0]: (read_metrics(job) or {}).get("status") for job in sweep_dir.glob("*_*")}
    assert statuses == {"0": "completed", "1": "completed", "2": "completed", "3": None}  # 3: adam, momentum 0.9


def test_hydras_own_flags_and_abbreviations_are_not_taken_for_knobs():
    assert cli.dashed_knob(["--hydra"]) is None  # argparse's abbreviation of --hydra-help
    assert cli.dashed_knob(["--cfg", "job", "--config-dir", "my_conf", "lr=-1"]) is None


@pytest.mark.parametrize("glob", ["optimizer=glob(sg*)", "dataset=glob(fashion*)"])  # the datasets prepared first
def test_a_glob_sweep_over_a_group_gets_the_sweeps_set_up(monkeypatch, capsys, tiny_root, tmp_path, glob):
    sweep_dir = tmp_path / "sweep"
    args = ["-m", glob, *tiny_overrides(tiny_root, *FAST, "epochs=1"), f"hydra.sweep.dir={sweep_dir}"]
    monkeypatch.setattr(sys, "argv", ["mlp_exp", *args])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Hydra turns an exception in a callback into a warning, and skips the rest
        cli.main()
    assert (sweep_dir / "multirun.yaml").is_file()  # the sweep callback's record, which its resume reads
    assert [metrics_of(job)["status"] for job in sweep_dir.glob("0_*")] == ["completed"]


@pytest.mark.parametrize(
    "args, problem",
    [
        (["-x"], "unrecognized arguments: -x"),
        (["--cfg"], "argument --cfg/-c: expected one argument"),
        (["--info", "nope"], "argument --info/-i: invalid choice: 'nope' (choose from "),
    ],
)
def test_a_flag_hydra_does_not_take_is_one_line_instead_of_its_usage_text(monkeypatch, capsys, args, problem):
    code, out, err = run_main(monkeypatch, capsys, *args)
    assert code == 2 and out == [] and len(err) == 1
    assert err[0].startswith(f"error: {problem}")
    assert err[0].endswith("; `python -m mlp_exp --help` lists the knobs, `--hydra-help` Hydra's flags")


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--config-dir={tmp}/nope", "--config-dir {tmp}/nope: no such folder; give a folder of config files in conf/"),
        (
            "--config-path={tmp}/nope",
            "--config-path {tmp}/nope: no such folder; give the absolute path of a whole copy",
        ),
        ("--config-path=./my.conf", "--config-path ./my.conf: no such folder (a relative path is looked for inside"),
        ("--config-path={tmp}", "--config-path {tmp}: it has no config.yaml; give the absolute path of a whole copy"),
        ("--config-name=foo", "--config-name foo: there is no foo.yaml; give the name of a config file of your own"),
    ],
)
def test_a_config_folder_or_file_that_is_not_there_is_named_with_its_flag(monkeypatch, capsys, tmp_path, flag, message):
    code, _, err = run_main(monkeypatch, capsys, flag.format(tmp=tmp_path), "epochs=1")
    assert code == 2 and len(err) == 1 and err[0].startswith(f"error: {message.format(tmp=tmp_path)}")


@pytest.mark.parametrize("where", ["before its dir", "after its dir", "as flags", "as a flag without its value"])
def test_a_knob_given_to_resume_says_a_resume_keeps_the_runs_config(monkeypatch, capsys, tmp_path, where):
    run_dir = tmp_path / "2026-12-03_10-04-31-4711_hiddens=16"  # a run dir's name holds `=` too
    (run_dir / ".hydra").mkdir(parents=True)
    # A sweep's job, whose preset would make the new run a sweep again, with config files of the user's own.
    (run_dir / ".hydra" / "overrides.yaml").write_text("- hiddens=16\n- sweep=widths\n- epochs=5\n")
    hydra_record = {
        "verbose": False,
        "job_logging": {},
        "job": {"config_name": "config"},
        "runtime": {
            "cwd": str(tmp_path),
            "config_sources": [
                {"path": "pkg://hydra.conf", "schema": "pkg", "provider": "hydra"},
                {"path": str(tmp_path / "conf"), "schema": "file", "provider": "main"},
                {"path": str(tmp_path / "my_conf"), "schema": "file", "provider": "command-line"},
            ],
        },
    }
    OmegaConf.save({"hydra": hydra_record}, run_dir / ".hydra" / "hydra.yaml")
    args, added = {
        "before its dir": (["epochs=20", "+lr=0.5"], ["epochs=20", "+lr=0.5"]),
        "after its dir": ([str(run_dir), "epochs=20", "+lr=0.5"], ["epochs=20", "+lr=0.5"]),
        "as flags": (["--epochs", "20", str(run_dir), "--lr=0.5"], ["epochs=20", "lr=0.5"]),
        "as a flag without its value": (["--epochs", str(run_dir)], ["epochs=VALUE"]),
    }[where]
    with pytest.raises(SystemExit) as exit_:
        resume.main(args)
    assert exit_.value.code == 2
    # The run's own config files and overrides, where its dir is known.
    own = [] if where == "before its dir" else [f"--config-dir={tmp_path / 'my_conf'}", "hiddens=16"]
    assert capsys.readouterr().err.splitlines() == [
        (
            f"error: {added[0]} is not allowed: a resume goes on with the run's own config, up to its own epochs; "
            f"for other values, start a new run: {command('python', '-m', 'mlp_exp', *own, *added)}"
        )
    ]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        resume.main(["1_epochs=1,seed=2"])  # a job's dir, named as compare names it: no knob
    assert capsys.readouterr().err.startswith("error: 1_epochs=1,seed=2 does not exist")


@pytest.mark.parametrize(
    "args, together",
    [
        (["epochs=1", "--config-dir", "my_conf", "optimizer=mine"], "--config-dir my_conf epochs=1 optimizer=mine"),
        (["-m", "lr=0.1,0.2", "-cd", "my_conf", "epochs=1"], "-m -cd my_conf lr=0.1,0.2 epochs=1"),
        (["hiddens=16", "--cfg", "job", "epochs=2"], "--cfg job hiddens=16 epochs=2"),
        # A flag's value that reads as the stray override: the flag keeps it.
        (["lr=2", "-cn", "epochs=1", "-p", "optimizer", "epochs=1"], "-cn epochs=1 -p optimizer lr=2 epochs=1"),
    ],
)
def test_overrides_on_both_sides_of_a_flag_are_told_to_come_together(monkeypatch, capsys, args, together):
    code, out, err = run_main(monkeypatch, capsys, *args)
    assert code == 2 and out == [] and len(err) == 1
    fixed = command("python", "-m", "mlp_exp", *together.split())
    # The override after the flag is the one Hydra's parser leaves over.
    assert err == [
        f"error: unrecognized arguments: {args[-1]}; give the overrides together, after Hydra's flags: {fixed}"
    ]


@pytest.mark.parametrize(
    "args, line",
    [
        (["--shell-completion"], "error: --shell-completion needs what to do: install=bash, "),
        (["-sc", "install=bsh"], "error: -sc install=bsh is not allowed: use one of bash, fish, zsh"),
        (["--cfg", "job", "-p", "lrr"], "error: -p lrr is not allowed: mlp_exp has no key lrr; did you mean lr?"),
        (["--experimental-rerun", "nope.pickle"], "error: --experimental-rerun: File nope.pickle does not exist; "),
        (["--experimental-re=nope.pickle"], "error: --experimental-rerun: File nope.pickle does not exist; "),
    ],
)
def test_hydras_flags_used_wrongly_are_one_line_instead_of_a_traceback(monkeypatch, capsys, args, line):
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        code, out, err = run_main(monkeypatch, capsys, *args)
    assert code == 2 and out == [] and len(err) == 1 and err[0].startswith(line)
    assert [str(w.message) for w in warned] == []  # Hydra's "experimental" warning would add 2 lines before it


def test_a_value_with_letters_beyond_ascii_is_told_to_quote_it(monkeypatch, capsys, tmp_path):
    code, _, err = run_main(monkeypatch, capsys, f"hydra.run.dir={tmp_path}/müller")  # Hydra takes them quoted
    assert code == 2 and len(err) == 1
    assert err[0].endswith(
        f"; quote a value with letters beyond ASCII: 'hydra.run.dir=\"{tmp_path}/müller\"' (see {GRAMMAR_DOCS})"
    )


@pytest.mark.parametrize(
    "override, reason",
    [
        ("seed=${oc.env:MLP_EXP_NO_SUCH_VARIABLE}", "Environment variable 'MLP_EXP_NO_SUCH_VARIABLE' not found"),
        ("lr=${no_such_key}", "Interpolation key 'no_such_key' not found"),
        ("hiddens=[${oc.env:MLP_EXP_NO_SUCH_VARIABLE},8]", "Environment variable 'MLP_EXP_NO_SUCH_VARIABLE' not found"),
    ],
)
def test_a_value_that_cannot_be_resolved_is_one_line_naming_its_key_before_the_run_dir(
    monkeypatch, capsys, tmp_path, override, reason
):
    run_dir = tmp_path / "run"
    code, _, err = run_main(monkeypatch, capsys, override, f"hydra.run.dir={run_dir}")
    key, _, value = override.partition("=")
    assert code == 2
    assert err == [
        f"error: {key}={value} cannot be resolved ({reason}): give {key} a value, or make what it refers to exist"
    ]
    assert not run_dir.exists()


@pytest.mark.parametrize(
    "override, value, allowed",
    [
        ("seed=${oc.env:MLP_EXP_TEST_VALUE}", "abc", "an int"),
        ("lr=${oc.env:MLP_EXP_TEST_VALUE}", "fast", "a number"),
        ("activation=${oc.env:MLP_EXP_TEST_VALUE}", "ReLU", f"one of {ACTIVATIONS}"),
        ("visuals.enabled=${oc.env:MLP_EXP_TEST_VALUE}", "maybe", "true or false"),
    ],
)
def test_a_value_that_resolves_to_the_wrong_kind_is_one_line_naming_what_it_resolved_to(
    monkeypatch, capsys, tmp_path, override, value, allowed
):
    monkeypatch.setenv("MLP_EXP_TEST_VALUE", value)
    run_dir = tmp_path / "run"
    code, _, err = run_main(monkeypatch, capsys, override, f"hydra.run.dir={run_dir}")
    assert code == 2 and err == [f"error: {override} is not allowed: it resolves to '{value}'; use {allowed}"]
    assert not run_dir.exists()


def test_a_sweep_with_a_value_from_the_environment_is_checked_as_the_value_it_resolves_to(
    monkeypatch, tiny_root, tmp_path
):
    # OmegaConf's oc.env gives a string ('5'): read as the schema's int, or the checks before the sweep would fail
    # on it, and Hydra, which only warns of a callback's error, would go on without them.
    monkeypatch.setenv("MLP_EXP_TEST_VALUE", "5")
    sweep_dir = tmp_path / "sweep"
    sweep = ["-m", "seed=${oc.env:MLP_EXP_TEST_VALUE}", "hiddens=8,16", f"hydra.sweep.dir={sweep_dir}"]
    first = run_cli(*tiny_overrides(tiny_root, *FAST, "epochs=1"), *sweep, cwd=tmp_path)
    assert first.returncode == 0 and "Warning" not in first.stderr, first.stderr
    assert {metrics_of(job)["hparams"]["seed"] for job in sweep_dir.glob("*=*")} == {5}
    before = files_under(sweep_dir)

    again = run_cli(*tiny_overrides(tiny_root, *FAST, "epochs=1"), *sweep, cwd=tmp_path)

    assert again.returncode == 2 and "already holds a sweep" in again.stderr
    assert files_under(sweep_dir) == before


@pytest.mark.parametrize("args", [[], ["-m", "seed=1,2"]], ids=["run", "sweep"])
def test_a_bug_in_a_hydra_callback_ends_the_command_instead_of_a_warning(args, monkeypatch, capsys, tmp_path):
    def a_bug(hydra):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "check_overrides", a_bug)  # the first thing each callback checks
    monkeypatch.setattr(sweep, "check_overrides", a_bug)
    code, _, err = run_main(
        monkeypatch, capsys, *args, f"hydra.run.dir={tmp_path / 'run'}", f"hydra.sweep.dir={tmp_path}"
    )
    assert code == 1 and err[0] == "Traceback (most recent call last):" and err[-1] == "RuntimeError: a bug"
    assert list(tmp_path.iterdir()) == []  # Hydra went no further


def test_a_users_error_in_a_hydra_callback_is_one_line_as_elsewhere(capsys):
    @ends_the_command
    def on_run_start():
        raise ConfigError("lr=-1 is not allowed: use a positive number")

    with pytest.raises(SystemExit) as exit_:
        on_run_start()
    assert exit_.value.code == 2 and capsys.readouterr().err == "error: lr=-1 is not allowed: use a positive number\n"


def test_hydras_own_resolver_in_the_run_dir_resolves_before_the_run(monkeypatch, capsys, tiny_root, tmp_path):
    args = [*tiny_overrides(tiny_root, *FAST), f"hydra.run.dir={tmp_path}/runs/${{hydra:job.name}}"]
    monkeypatch.setattr(sys, "argv", ["mlp_exp", *args])
    cli.main()
    assert metrics_of(tmp_path / "runs" / "mlp_exp")["status"] == "completed"


def test_a_used_run_dir_is_refused_even_with_an_override_only_the_job_can_resolve(
    monkeypatch, capsys, tiny_root, tmp_path
):
    run_dir = tmp_path / "run"
    monkeypatch.setattr(sys, "argv", ["mlp_exp", *tiny_overrides(tiny_root, *FAST), f"hydra.run.dir={run_dir}"])
    cli.main()
    before = files_under(run_dir / ".hydra")
    code, _, err = run_main(monkeypatch, capsys, f"hydra.run.dir={run_dir}", "seed=${hydra:job.num}")
    assert code == 2 and err[-1] == f"error: {run_dir} already holds a run that completed: choose another hydra.run.dir"
    assert files_under(run_dir / ".hydra") == before  # its resume still finds the config it was made with


def test_a_slurm_sweep_where_there_is_no_slurm_is_one_line_and_writes_nothing(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("shutil.which", lambda name: None)
    code, _, err = run_main(monkeypatch, capsys, "-m", "seed=1,2", "hydra/launcher=slurm")
    assert code == 2 and err == [
        (
            "error: hydra/launcher=slurm is not allowed here: Slurm's srun is not on PATH; start the sweep on a "
            "machine of the cluster, or run its jobs here with hydra/launcher=joblib"
        )
    ]
    assert list(tmp_path.iterdir()) == []


def test_a_folder_of_ones_own_files_is_not_written_over_by_a_run(monkeypatch, capsys, tiny_root, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "predictions.png").write_bytes(b"my own picture")
    (docs / "notes.txt").write_text("my notes")
    before = files_under(docs)
    code, _, err = run_main(monkeypatch, capsys, *tiny_overrides(tiny_root), f"hydra.run.dir={docs}")
    assert code == 2 and err == [
        (
            f"error: {docs} holds predictions.png, but no run (no metrics.json), and the run would write over "
            "them: choose a new or empty hydra.run.dir"
        )
    ]
    assert files_under(docs) == before


@pytest.mark.parametrize("sweep", [False, True], ids=["run", "sweep"])
def test_a_dir_that_cannot_be_made_is_one_line_naming_its_key(monkeypatch, capsys, tiny_root, tmp_path, sweep):
    (tmp_path / "file").write_text("")
    where = tmp_path / "file" / "x"
    key = "hydra.sweep.dir" if sweep else "hydra.run.dir"
    args = ["-m", "seed=1,2"] if sweep else []
    code, _, err = run_main(monkeypatch, capsys, *args, *tiny_overrides(tiny_root), f"{key}={where}")
    assert code == 2 and err == [f"error: cannot use {where} ({tmp_path / 'file'} is a file); choose another {key}"]
    code, _, err = run_main(monkeypatch, capsys, *args, *tiny_overrides(tiny_root), f"{key}={tmp_path / 'file'}")
    assert code == 2 and err == [f"error: cannot use {tmp_path / 'file'} (it is a file); choose another {key}"]


@pytest.mark.parametrize("sweep", [False, True], ids=["run", "sweep"])
def test_a_dir_with_runs_below_it_is_refused_as_a_runs_or_a_sweeps(monkeypatch, capsys, tiny_root, tmp_path, sweep):
    outputs = tmp_path / "outputs"
    (outputs / "runs" / "an_old_run" / ".hydra").mkdir(parents=True)
    (outputs / "multirun" / "a_sweep").mkdir(parents=True)
    (outputs / "multirun" / "a_sweep" / "multirun.yaml").write_text("hydra: {}")
    before = files_under(outputs)
    key = "hydra.sweep.dir" if sweep else "hydra.run.dir"
    for where in (outputs, outputs / "runs"):
        args = ["-m", "seed=1,2"] if sweep else []
        code, _, err = run_main(monkeypatch, capsys, *args, *tiny_overrides(tiny_root), f"{key}={where}")
        assert code == 2 and len(err) == 1, err
        assert err[0].startswith(f"error: {where} holds other runs (") and err[0].endswith(
            f"among them): choose another {key}, a dir of its own"
        )
    assert files_under(outputs) == before and sorted(p.name for p in (outputs / "runs").iterdir()) == ["an_old_run"]


@pytest.mark.parametrize("sweep", [False, True], ids=["run", "sweep"])
def test_a_dir_inside_a_run_or_a_sweep_is_refused_and_left_unmade(monkeypatch, capsys, tiny_root, tmp_path, sweep):
    outputs = tmp_path / "outputs"
    (outputs / "runs" / "an_old_run" / ".hydra").mkdir(parents=True)
    (outputs / "runs" / "an_old_run" / "metrics.json").write_text('{"status": "completed"}')
    (outputs / "multirun" / "a_sweep").mkdir(parents=True)
    (outputs / "multirun" / "a_sweep" / "multirun.yaml").write_text("hydra: {}")
    (tmp_path / "another_hydra_apps_run" / ".hydra").mkdir(parents=True)  # no run of mlp_exp's
    before = files_under(outputs)
    key = "hydra.sweep.dir" if sweep else "hydra.run.dir"
    args = ["-m", "seed=1,2"] if sweep else []
    refuse_inside_a_run(tmp_path / "another_hydra_apps_run" / "x", key)  # no refusal
    for holder in (outputs / "runs" / "an_old_run", outputs / "multirun" / "a_sweep"):
        where = holder / "new" / "deeper"
        code, _, err = run_main(monkeypatch, capsys, *args, *tiny_overrides(tiny_root), f"{key}={where}")
        assert code == 2 and err == [
            f"error: {where} is inside {holder}, which holds a run or sweep: choose another {key}"
        ]
        assert not (holder / "new").exists()
    assert files_under(outputs) == before

    # Started from within a run's dir, as one does to look at it: the default dir would land inside it.
    monkeypatch.chdir(outputs / "runs" / "an_old_run")
    code, _, err = run_main(monkeypatch, capsys, *args, *tiny_overrides(tiny_root))
    assert code == 2 and len(err) == 1
    assert err[0].endswith(
        f"which holds a run or sweep: run it from outside {outputs / 'runs' / 'an_old_run'}, or choose another {key}"
    )
    assert files_under(outputs) == before


def test_a_run_dir_is_refused_as_a_sweep_dir(monkeypatch, capsys, tmp_path):
    (tmp_path / "run" / ".hydra").mkdir(parents=True)
    code, _, err = run_main(monkeypatch, capsys, "-m", "seed=1,2", f"hydra.sweep.dir={tmp_path / 'run'}")
    assert code == 2 and err == [f"error: {tmp_path / 'run'} holds a run, not a sweep: choose another hydra.sweep.dir"]
    assert [p.name for p in (tmp_path / "run").iterdir()] == [".hydra"]


def test_hydra_full_error_still_gives_the_full_traceback(monkeypatch):
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    monkeypatch.setattr(sys, "argv", ["mlp_exp", "lr=abc"])
    with pytest.raises(ConfigCompositionException):
        cli.main()
    assert os.environ["HYDRA_FULL_ERROR"] == "1"


def test_cfg_job_still_prints_the_config(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["mlp_exp", "--cfg", "job", "lr=0.05"])
    cli.main()
    assert "lr: 0.05" in capsys.readouterr().out


# Values of the right type that no run can use, and keys added with `+` or deleted with `~`: caught by `check`.
@pytest.mark.parametrize(
    "override, message",
    [
        ("lr=inf", "lr=inf is not allowed: use a positive number"),
        ("lr=nan", "lr=nan is not allowed: use a positive number"),
        ("init_scale=inf", "init_scale=inf is not allowed: use a number >= 0"),
        ("optimizer.weight_decay=nan", "optimizer.weight_decay=nan is not allowed: use a number >= 0"),
        ("seed=18446744073709551616", "seed=18446744073709551616 is not allowed: use an int that fits in 64 bits"),
        ("hiddens=[[64]]", "hiddens=[[64]] is not allowed: use a positive int"),
        # as typed, not as Python prints them (None, [256, True])
        ("hiddens=null", "hiddens=null is not allowed: use a positive int"),
        ("hiddens=[256,true]", "hiddens=[256,true] is not allowed: use a positive int"),
        ("visuals.predictions=20000", "visuals.predictions=20000 is not allowed: use an int from 1 to 200"),
        ("+hiddenz=5", "hiddenz=5 is not allowed: mlp_exp has no key hiddenz; did you mean hiddens?"),
        (
            "+optimizer.betas=[0.9,0.99]",
            "optimizer.betas=[0.9,0.99] is not allowed: mlp_exp has no key optimizer.betas",
        ),
        ("~hiddens", "hiddens is missing: every run needs it; drop the ~hiddens override"),
        ("~dataset", "dataset has no value: choose one of its options: dataset=OPTION (`python -m mlp_exp --help`"),
        ("hiddens=???", "hiddens has no value: set it: hiddens=VALUE"),
        (
            "optimizer=adam optimizer.momentum=0.5",
            "optimizer.momentum=0.5 is not allowed: use 0 with adam or adamw: momentum is SGD's",
        ),
    ],
)
def test_values_and_keys_no_run_can_use_are_named_by_check(override, message):
    with pytest.raises(ConfigError) as error:
        check(compose_cfg(*override.split()))
    assert str(error.value).startswith(message)


def test_a_group_a_sweep_sets_may_be_unset_in_the_sweeps_own_config():
    unset = compose_cfg("~dataset")  # as a primary config of the user's own with `- dataset: ???` composes
    check_before_the_job(unset, swept=frozenset({"dataset"}))  # -m dataset=mnist,kmnist sets it in each job
    with pytest.raises(ConfigError, match="^dataset has no value"):
        check_before_the_job(unset)


def test_a_dataset_name_apart_from_its_option_is_refused_wherever_it_was_set():
    check_dataset_option(compose_cfg("dataset=mnist"), "mnist")
    check_dataset_option(compose_cfg("dataset.name=kmnist"), "my_own_kmnist_copy")  # conf/dataset/ of the user's
    with pytest.raises(ConfigError, match=r"^dataset.name=kmnist is not allowed with dataset=fashion_mnist, "):
        check_dataset_option(compose_cfg("dataset.name=kmnist"), "fashion_mnist")  # in a preset or by a sweeper


def test_cuda_without_a_gpu_is_a_config_error(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"^device=cuda is not allowed: no CUDA GPU is visible here; use device=cpu"):
        pick_device(Device.cuda)


@pytest.mark.parametrize(
    "override, message",
    [
        ("lr=abc", "error: lr=abc is not allowed: use a number"),  # rejected by Hydra
        (
            "hiddens=[]",
            "error: hiddens=[] is not allowed: use a positive int",
        ),  # rejected by check, before the run dir is made
        (
            "dataset.name=mnist",
            "error: dataset.name=mnist is not allowed with dataset=fashion_mnist, whose files and class names",
        ),
        ("+foo=1", "error: foo=1 is not allowed: mlp_exp has no key foo"),
        ("~optimizer", "error: optimizer has no value: choose one of its options: optimizer=OPTION"),
        ("dataset.name=???", "error: dataset.name has no value: set it: dataset.name=VALUE"),
    ],
)
def test_the_real_command_says_it_in_one_line_and_exits_2(override, message, tiny_root, tmp_path):
    result = run_cli(*tiny_overrides(tiny_root, override), f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)

    assert result.returncode == 2
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(message), lines
    assert "Traceback" not in result.stderr and "HYDRA_FULL_ERROR" not in result.stderr
    assert not (tmp_path / "run").exists()  # refused before the run dir is made


@pytest.mark.parametrize("names", [2, 11])  # 11: a net of 11 outputs, one never trained
def test_class_names_that_do_not_match_the_data_are_named_before_the_run_dir(tiny_root, tmp_path, names):
    classes = f"dataset.classes=[{','.join(f'c{i}' for i in range(names))}]"
    result = run_cli(*tiny_overrides(tiny_root, classes), f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: dataset.classes has {names} names but fashion_mnist has 10 classes: give one name per class, in "
        "label order"
    )
    assert not (tmp_path / "run").exists()


def test_a_command_that_only_prints_gives_back_the_sigpipe_handler_it_found(monkeypatch, capsys):
    # A process that runs another command after it (tests, a notebook) must not be left to SIGPIPE.
    before = signal.getsignal(signal.SIGPIPE)
    monkeypatch.setattr(sys, "argv", ["mlp_exp", "--cfg", "job", "epochs=3"])
    cli.main()
    assert "epochs: 3" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGPIPE) == before

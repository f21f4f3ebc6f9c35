import copy
import os
import re

import pytest
from conftest import FAST, compose_cfg, metrics_of, run_cli, tiny_overrides
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf
from omegaconf.errors import ValidationError

from mlp_exp import config, run_dirs
from mlp_exp.config import (
    Activation,
    ConfigError,
    DatasetName,
    Device,
    OptimizerName,
    check,
    flat_hparams,
    hidden_widths,
)
from mlp_exp.run_dirs import job_dirname, run_dirname


def test_default_is_the_d2l_reference_experiment():
    cfg = compose_cfg()
    assert cfg.hiddens == 256
    assert cfg.lr == 0.1
    assert cfg.init_scale == 0.01
    assert cfg.activation is Activation.relu
    assert cfg.epochs == 10
    assert cfg.batch_size == 256
    assert cfg.device is Device.auto
    assert cfg.dataset.name is DatasetName.fashion_mnist
    assert cfg.dataset.system_dir == "/usr/share/datasets/fashion-mnist"
    assert len(cfg.dataset.classes) == 10
    assert cfg.optimizer.name is OptimizerName.sgd
    assert cfg.optimizer.momentum == 0


def test_short_top_level_keys_change_the_run():
    cfg = compose_cfg("hiddens=512", "lr=0.05")
    assert cfg.hiddens == 512 and cfg.lr == 0.05


def test_hiddens_takes_a_list_for_deeper_nets():
    cfg = compose_cfg("hiddens=[512,256]")
    assert hidden_widths(cfg.hiddens) == [512, 256]


@pytest.mark.parametrize(
    "override",
    ["lr=abc", "epochs=1.5", "batch_size=big", "activation=ReLU", "device=tpu", "seed=x", "init_scale=[1]"],
)
def test_wrong_types_fail_while_composing(override):
    with pytest.raises((ConfigCompositionException, ValidationError)):
        compose_cfg(override)


@pytest.mark.parametrize("override", ["hiddenz=5", "optimizer.beta=0.9", "optimizer.lr=0.5"])
def test_unknown_keys_fail_while_composing(override):
    with pytest.raises(ConfigCompositionException):
        compose_cfg(override)


@pytest.mark.parametrize("override", ["dataset=cifar", "optimizer=SGD"])
def test_unknown_group_options_fail_while_composing(override):
    with pytest.raises(ConfigCompositionException):
        compose_cfg(override)


@pytest.mark.parametrize(
    "override, key",
    [
        ("hiddens=0", "hiddens"),
        ("hiddens=-3", "hiddens"),
        ("hiddens=[]", "hiddens"),
        ("hiddens=[64,0]", "hiddens"),
        ("hiddens=abc", "hiddens"),
        ("hiddens=1.5", "hiddens"),
        ("lr=0", "lr"),
        ("lr=-0.1", "lr"),
        ("init_scale=-1", "init_scale"),
        ("epochs=0", "epochs"),
        ("batch_size=-1", "batch_size"),
        ("threads=-1", "threads"),
        ("threads=100000", "threads"),  # crashes libgomp
        ("optimizer.momentum=1.5", "optimizer.momentum"),
        ("optimizer.momentum=1", "optimizer.momentum"),  # its momentum buffer would never decay
        ("optimizer.weight_decay=-0.1", "optimizer.weight_decay"),
        ("visuals.every=-1", "visuals.every"),
        ("visuals.predictions=0", "visuals.predictions"),
    ],
)
def test_values_no_run_can_use_are_rejected_with_the_key_named(override, key):
    cfg = compose_cfg(override)
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)}=.* is not allowed: use "):
        check(cfg)


@pytest.mark.parametrize("override", ["hiddens='256'", "hiddens=[64,'true']"])
def test_a_quoted_value_is_refused_with_its_quotes_where_they_made_it_a_string(override):
    with pytest.raises(
        ConfigError, match=rf"^{re.escape(override)} is not allowed: use a positive int \(hiddens=256\)"
    ):
        check(compose_cfg(override))


def test_group_options_compose():
    assert compose_cfg("optimizer=momentum").optimizer.momentum == 0.9
    adamw = compose_cfg("optimizer=adamw", "lr=0.001").optimizer
    assert adamw.name is OptimizerName.adamw and adamw.weight_decay > 0
    assert compose_cfg("optimizer=adam").optimizer.name is OptimizerName.adam
    for name in ("mnist", "kmnist", "fashion_mnist"):
        dataset = compose_cfg(f"dataset={name}").dataset
        assert dataset.name.name == name and len(dataset.classes) == 10


def test_d2l_baseline_preset_is_the_default_and_deeper_adds_a_layer():
    baseline = compose_cfg("experiment=d2l_baseline")
    assert OmegaConf.to_container(baseline) == OmegaConf.to_container(compose_cfg())
    deeper = compose_cfg("experiment=deeper")
    assert hidden_widths(deeper.hiddens) == [256, 256]
    # Command-line overrides still win over a preset.
    assert compose_cfg("experiment=d2l_baseline", "lr=0.3").lr == 0.3


def test_run_dirnames_are_unique_per_process_and_never_nest():
    name = run_dirname("dataset.root=/tmp/x,lr=0.1")
    assert f"-{os.getpid()}_" in name and "/" not in name
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d-\d+", run_dirname(""))
    assert job_dirname(3, "hiddens=64") == "3_hiddens=64"
    assert job_dirname(0, "") == "0"
    # Floats with more digits than a person types (Optuna's) are cut to 4; those typed stay as typed.
    assert job_dirname(2, "init_scale=0.007177873855741625,lr=0.12345678") == "2_init_scale=0.007178,lr=0.12345678"
    assert job_dirname(1, "lr=1.2345678901e-05,seed=12345678901") == "1_lr=1.235e-05,seed=12345678901"
    typed = "lr=1000000.0,x=123456.7,v=v1.23456789012,ver=1.2.3456789012,neg=-0.5"
    assert job_dirname(3, typed) == f"3_{typed}"


def test_a_dir_name_of_many_overrides_stays_a_name_the_file_system_takes(tiny_root, tmp_path):
    many = (
        f"hiddens=[{','.join(['16'] * 60)}],lr=0.1,activation=tanh,optimizer.weight_decay=0.0001,visuals.enabled=false"
    )
    name = run_dirname(many)
    assert len(name.encode()) <= 255 and name.endswith(",...")
    assert many.startswith(name.split("_", 2)[2].removesuffix(",...") + ",")  # whole overrides, then a mark
    assert job_dirname(7, many).startswith("7_hiddens=[16,16,")
    wide = f"hiddens=[{','.join(['1024'] * 60)}],lr=0.1"  # one override longer than a name may be
    assert job_dirname(7, wide) == f"7_{wide.encode()[:196].decode()},..."
    quoted = f"{'x' * 170}=1,hiddens=[1,2,3],y='a,b'{',z=1' * 20}"  # no cut at a comma in brackets or quotes
    assert job_dirname(7, quoted).endswith("=1,hiddens=[1,2,3],y='a,b',...")

    result = run_cli(*tiny_overrides(tiny_root, *FAST, f"hiddens=[{','.join(['16'] * 60)}]"), *many.split(",")[-4:],
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    [run_dir] = (tmp_path / "outputs" / "runs").iterdir()
    assert metrics_of(run_dir)["status"] == "completed"


def test_hparams_are_flat_scalars_with_the_same_keys_in_every_run():
    default = flat_hparams(compose_cfg())
    deeper = flat_hparams(compose_cfg("hiddens=[512,256]", "optimizer=adam", "activation=tanh"))
    assert default.keys() == deeper.keys()
    assert all(isinstance(v, (int, float, str, bool)) for v in {**default, **deeper}.values())
    assert default["hiddens"] == "256" and deeper["hiddens"] == "512-256" and deeper["depth"] == 2
    assert deeper["optimizer"] == "adam" and deeper["activation"] == "tanh"


@pytest.mark.parametrize(
    "overrides, rule",
    [
        (["optimizer=sgd"], "sgd"),
        (["optimizer=momentum"], "momentum"),
        (["optimizer=sgd", "optimizer.momentum=0.5"], "momentum"),  # the rule, whichever option set it
        (["optimizer=adamw"], "adamw"),
    ],
)
def test_the_optimizer_is_recorded_as_the_options_name_its_update_rule(overrides, rule):
    assert flat_hparams(compose_cfg(*overrides))["optimizer"] == rule


def test_a_runs_dir_name_is_the_same_however_often_and_late_it_is_resolved(monkeypatch):
    # The run-dir callback resolves hydra.run.dir, then Hydra does: a second may tick between the two.
    stamps = iter(["2026-11-22_10-04-31", "2026-11-22_10-04-32", "2026-11-22_10-04-33"])
    monkeypatch.setattr(run_dirs.time, "strftime", lambda fmt, *when: next(stamps))
    run = OmegaConf.create({"dir": "${mlp_exp.run_dirname:hiddens}"})
    assert run.dir == run.dir == copy.deepcopy(run).dir
    assert run.dir.startswith("2026-11-22_10-04-31-")
    assert OmegaConf.create({"dir": "${mlp_exp.run_dirname:hiddens}"}).dir.startswith("2026-11-22_10-04-32-")


def test_what_only_hydras_job_can_resolve_is_left_to_it_and_nothing_else(monkeypatch):
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import setup_globals

    setup_globals()  # Hydra's resolvers, as in a callback
    monkeypatch.setattr(HydraConfig.instance(), "cfg", None)  # before the job: Hydra's state is not set yet
    cfg = OmegaConf.create(
        {
            "seed": "${hydra:job.num}",
            "root": "${seed}/data",  # refers to one that only the job can resolve
            "lr": "${oc.env:MLP_EXP_NO_SUCH_VARIABLE}",
        }
    )
    with pytest.raises(config.ConfigError, match=r"^lr=\$\{oc.env:MLP_EXP_NO_SUCH_VARIABLE\} cannot be resolved"):
        config.check_resolvable(cfg, unresolved_to_the_job=True)

"""The run's checkpoint: everything needed to continue training exactly where the last completed epoch ended.

`<run dir>/checkpoint.pt` holds tensors and plain data only (dicts, lists, numbers, strings), so it loads
with `torch.load(weights_only=True)`, which refuses to unpickle anything else: a checkpoint from someone
else cannot run code on this machine. It is written atomically: a crash mid-write leaves the previous one.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from mlp_exp.config import RESTATING_HIDDENS, first_line, knob_default, with_optimizer_rule
from mlp_exp.exits import OneLineError
from mlp_exp.files import atomic_write
from mlp_exp.optim import Optimizer

# What to do with a checkpoint that cannot be read.
NO_CHECKPOINT_FIX = "restore it from a copy, or delete it to train the run from epoch 1"
FORMAT = 1
# What a checkpoint must hold, and the type of each entry. It also holds the CPU threads the run trained on (see
# `save`), which checkpoints written before they were recorded lack.
ENTRIES = {
    "format": int,
    "hparams": dict,  # config.flat_hparams of the run, to tell whose checkpoint it is
    "model": dict,  # net.state_dict(): W1, b1, W2, b2, ...
    "optimizer": dict,  # optimizer.state_dict(): the step count, momentum buffers, Adam's moments
    "shuffle": torch.Tensor,  # the state of the generator that shuffles the training set each epoch
    "history": list,  # metrics.json's records of the completed epochs
}


class CheckpointError(OneLineError, RuntimeError):
    """A checkpoint that cannot or must not be loaded; the message names the file and what to do."""


def save(
    path: Path,
    hparams: dict[str, Any],
    net: nn.Module,
    optimizer: Optimizer,
    shuffle: torch.Generator,
    history: list[dict[str, Any]],
) -> None:
    """Write the training state after the last epoch in `history`, atomically and durably (it survives a power cut)."""
    state = {
        "format": FORMAT,
        "hparams": hparams,
        "model": net.state_dict(),
        "optimizer": optimizer.state_dict(),
        "shuffle": shuffle.get_state(),
        "history": history,
        # The device and the CPU threads it trained on: they set the order of float sums in the matrix products, and
        # so the last digits of every number after it.
        "device": next(net.parameters()).device.type,
        "threads": torch.get_num_threads(),
    }
    serialized = io.BytesIO()  # written in one write below: a full disk is then an OSError, not torch's own error
    torch.save(state, serialized)
    with atomic_write(path) as tmp, open(tmp, "wb") as f:
        f.write(serialized.getbuffer())
        f.flush()
        os.fsync(f.fileno())
    directory = os.open(path.parent, os.O_RDONLY)  # the rename survives a power cut once its directory is synced
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class Restored(NamedTuple):
    history: list[dict[str, Any]]  # metrics.json's records of the completed epochs
    # What the run trained on, `cpu` or `cuda`, and its CPU threads; None in a checkpoint of an mlp_exp that did not
    # record them.
    device: str | None
    threads: int | None


def restore(
    path: Path,
    hparams: dict[str, Any],
    net: nn.Module,
    optimizer: Optimizer,
    shuffle: torch.Generator,
) -> Restored:
    """Put the model, the optimizer and the shuffling generator back as `path` saved them.

    Raises CheckpointError for a file that is unreadable, holds pickled objects, is not an mlp_exp checkpoint,
    was saved by a run with other hparams, or does not fit the network.
    """
    state = _load(path, device=next(net.parameters()).device)
    saved = with_optimizer_rule(state["hparams"])
    differences = []
    for key, value in hparams.items():
        if key in saved and saved[key] != value:
            differences.append(f"{key} {saved[key]!r} in the checkpoint, {value!r} in the config")
        # A checkpoint of an older mlp_exp lacks the knobs added since, whose default is what its runs did; it may
        # lack width, which restates hiddens: that cannot tell runs apart.
        elif key not in saved and key not in RESTATING_HIDDENS and (default := knob_default(key)) != value:
            differences.append(f"{key} not in the checkpoint (its default: {default!r}), {value!r} in the config")
    if differences:
        raise CheckpointError(
            f"{path} belongs to a different run ({'; '.join(differences)}); resume it with the config it was saved with"
        )
    try:
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        shuffle.set_state(state["shuffle"].cpu())  # a generator state is a CPU tensor, wherever the run is
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path} does not fit this run's network ({first_line(e)}); delete it") from e
    device, threads = state.get("device"), state.get("threads")
    return Restored(
        state["history"],
        device if isinstance(device, str) else None,
        threads if isinstance(threads, int) and threads > 0 else None,
    )


ZIP_START = b"PK\x03\x04"  # the first bytes of a zip archive, which torch.save writes


def _what_is_wrong(path: Path) -> str | None:
    """What makes `path` no checkpoint, seen from its bytes: empty, cut short, or neither what torch.save writes
    (a zip archive) nor a pickle (whose protocols 2 and up start with the PROTO opcode); None if it looks whole."""
    try:
        with open(path, "rb") as f:
            start = f.read(len(ZIP_START))
            f.seek(0)
            whole_zip = zipfile.is_zipfile(f)  # it reads the zip's index, at the end of the file
    except OSError as e:  # gone or unreadable since torch read it
        return first_line(e)
    if not start:
        return "it is empty"
    if start == ZIP_START and not whole_zip:
        return "it is cut short, as by a copy or save that did not finish"
    if not whole_zip and start[:1] != pickle.PROTO:
        return "it is not a file torch.save wrote"
    return None


def _load(path: Path, device: torch.device) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as e:
        # Garbage, which torch's unpickler reads as pickle's opcodes (`Unsupported operand`), or a real pickle.
        if wrong := _what_is_wrong(path):
            raise CheckpointError(f"cannot read {path} ({wrong}); {NO_CHECKPOINT_FIX}") from e
        detail = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\.\s|\n\n|$)", str(e), re.DOTALL)
        raise CheckpointError(
            f"refusing to load {path}: it holds pickled Python objects, not only tensors and plain data "
            f"({detail.group(1) if detail else 'not allowed by weights_only'}), and loading those can run any code; "
            "resume only from checkpoints that mlp_exp wrote"
        ) from e
    except Exception as e:  # torch's own words otherwise: `(101)` for text, `[Errno 22]` for a cut-short zip
        raise CheckpointError(
            f"cannot read {path} ({_what_is_wrong(path) or first_line(e)}); {NO_CHECKPOINT_FIX}"
        ) from e
    if (
        not isinstance(state, dict)
        or any(not isinstance(state.get(key), kind) for key, kind in ENTRIES.items())
        or state["format"] != FORMAT
    ):
        raise CheckpointError(f"{path} is not an mlp_exp checkpoint (format {FORMAT}); delete it or use the right file")
    return state

"""What a run leaves behind for people and tools: TensorBoard events and metrics.json, both in the run dir.

The event file sits directly in the run dir, so `tensorboard --logdir outputs` shows one run per run dir.
The hyperparameters go into that same event file (not `SummaryWriter.add_hparams`, which writes into a
new sub-directory that TensorBoard lists as an extra run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.hparams import plugin_data_pb2
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams as hparams_summaries

from mlp_exp.records import HOST, METRICS_FILE, SESSION_STATUS, TAGS, Status, write_json_atomic


class Tracker:
    """Writes one run's metrics per epoch to TensorBoard and metrics.json."""

    def __init__(self, run_dir: Path, hparams: dict[str, Any], resumed: list[dict[str, float]] | None = None) -> None:
        """`resumed`: the records of the epochs done before, when continuing an interrupted run."""
        self.metrics_path = run_dir / METRICS_FILE
        self.hparams = hparams
        self.history = list(resumed or [])
        # A resumed run appends another event file to the run dir, which starts with a restart marker at its first
        # epoch: TensorBoard hides what earlier files hold from that epoch on (written after the checkpoint by a
        # crashed run, or all of them after the checkpoint was deleted). Its Python loader (--load_fast=false) takes
        # the first marker it sees for the run's start, not a restart: a new run writes one too.
        self.writer = SummaryWriter(log_dir=str(run_dir), purge_step=len(self.history) + 1)
        # Only the session's start. torch's hparams() makes an Experiment summary too, but TensorBoard takes the first
        # one it finds as every run's, and a run's own lists only its own values: no knob would differ, so the HParams
        # tab would show the first five knobs by name and no filter for text ones. Without one, TensorBoard derives
        # the knobs' ranges from all the runs, and makes each scalar (per-class accuracies, times) a metric column.
        _, session_start, _ = hparams_summaries(hparams, {})
        self.writer.file_writer.add_summary(session_start)
        self._write_metrics(Status.running)

    def log_epoch(self, record: dict[str, float]) -> None:
        """`record`: the epoch's number (`epoch`) and its scalars (train_loss, train_acc, ...)."""
        for key, value in record.items():
            if key != "epoch":
                self.writer.add_scalar(TAGS.get(key, key), value, record["epoch"])
        self.writer.flush()
        self.history.append(record)
        self._write_metrics(Status.running)

    def close(self, status: Status) -> dict[str, Any]:
        """Mark the run's end with `status` (completed, diverged, interrupted, running); returns metrics.json's content."""
        if status in SESSION_STATUS:
            self.writer.file_writer.add_summary(_session_end_summary(status))
        self.writer.close()
        return self._write_metrics(status)

    def _write_metrics(self, status: Status) -> dict[str, Any]:
        last = self.history[-1] if self.history else {}
        metrics = {
            "status": status,
            "host": HOST,  # where a `running` run trains: only there can its process be looked for (compare)
            "epochs_done": len(self.history),
            "train_loss": last.get("train_loss"),
            "train_acc": last.get("train_acc"),
        }
        if self.hparams.get("val_fraction"):  # a run that holds out a validation set
            metrics["val_acc"] = last.get("val_acc")
        metrics |= {"test_acc": last.get("test_acc"), "hparams": self.hparams, "history": self.history}
        write_json_atomic(self.metrics_path, metrics)
        return metrics


def _session_end_summary(status: Status) -> Summary:
    session_end = plugin_data_pb2.SessionEndInfo(status=SESSION_STATUS[status])
    plugin_data = plugin_data_pb2.HParamsPluginData(session_end_info=session_end)
    metadata = hparams_metadata.create_summary_metadata(plugin_data)
    return Summary(value=[Summary.Value(tag=hparams_metadata.SESSION_END_INFO_TAG, metadata=metadata)])

"""The legacy training jobs and their scripts, end to end, reduced."""

import os
import re

import numpy as np
import pytest
import tensorflow as tf

from compat_tests import script_runner
from gru_common import job_configs
from legacy import addition_job
from legacy import classifier_job

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LOG_LINE = re.compile(
    r"^Iteration: (\d+), train loss: \d+\.\d{4}, test loss: \d+\.\d{4}$")


def checkpoint_layout(prefix):
  return dict(tf.train.list_variables(prefix))


def tensorboard_tags(folder):
  tags = set()
  for name in os.listdir(folder):
    for event in tf.compat.v1.train.summary_iterator(
        os.path.join(folder, name)):
      tags.update(v.tag for v in event.summary.value)
  return tags


def is_png(path):
  with open(path, "rb") as f:
    return f.read(8) == PNG_MAGIC


ADDITION_VARIABLES = {"Wr": [2, 16], "Wz": [2, 16], "Wh": [2, 16],
                      "Ur": [16, 16], "Uz": [16, 16], "Uh": [16, 16],
                      "br": [16], "bz": [16], "bh": [16],
                      "Variable": [16, 1], "Variable_1": [1]}


def test_addition_job_writes_checkpoint_plot_and_summaries(out_dir):
  lines = []
  result = addition_job.train(job_configs.AdditionConfig(epochs=120),
                              output_dir=out_dir, log=lines.append)
  assert [int(LOG_LINE.match(l).group(1)) for l in lines] == [0, 50, 100]
  assert len(result.train_losses) == len(result.test_losses) == 120
  assert result.train_losses[-1] < result.train_losses[0]
  expected = dict(ADDITION_VARIABLES)
  for name, shape in ADDITION_VARIABLES.items():
    expected[f"{name}/Adam"] = shape
    expected[f"{name}/Adam_1"] = shape
  expected.update(beta1_power=[], beta2_power=[])
  assert checkpoint_layout(result.checkpoint_prefix) == expected
  reader = tf.train.load_checkpoint(result.checkpoint_prefix)
  for name, value in result.final_values.items():
    np.testing.assert_array_equal(reader.get_tensor(name), value)
  # TF1's Adam keeps its beta powers in float32: beta1 ** (steps + 1).
  assert reader.get_tensor("beta1_power").dtype == np.float32
  assert is_png(result.plot_path)
  assert {"loss/train", "loss/test"} <= tensorboard_tags(result.summary_dir)


def test_addition_job_is_deterministic():
  config = job_configs.AdditionConfig(epochs=30, seed=5)
  first = addition_job.train(config, log=lambda _: None)
  second = addition_job.train(config, log=lambda _: None)
  np.testing.assert_array_equal(first.train_losses, second.train_losses)
  np.testing.assert_array_equal(first.test_losses, second.test_losses)
  other = addition_job.train(job_configs.AdditionConfig(epochs=30, seed=6),
                             log=lambda _: None)
  assert not np.array_equal(first.train_losses, other.train_losses)


@pytest.mark.parametrize("kwargs, match", [
    (dict(epochs=0), "`epochs`"), (dict(hidden_size=-1), "`hidden_size`"),
    (dict(seed=-1), "`seed`"), (dict(query_a=2**19), "`query_a`"),
])
def test_addition_config_rejects_bad_values(kwargs, match):
  with pytest.raises(ValueError, match=match):
    job_configs.AdditionConfig(**kwargs)


@pytest.mark.parametrize("model, reset_gate, head_rows", [
    ("gru", True, 6), ("gru", False, 6), ("bigru", True, 12)])
def test_classifier_job_layouts(out_dir, model, reset_gate, head_rows):
  config = job_configs.ClassifierConfig(epochs=1, hidden_dim=6, model=model,
                                 reset_gate=reset_gate)
  result = classifier_job.train(config, output_dir=out_dir,
                                log=lambda _: None)
  layout = checkpoint_layout(result.checkpoint_prefix)
  model_vars = {k: v for k, v in layout.items()
                if "Adam" not in k and "power" not in k}
  scopes = ["gru_init"] + (["gru_init_1"] if model == "bigru" else [])
  gates = (["input_gate"] if reset_gate else []) + ["forget_gate",
                                                     "control_gate"]
  expected = {"classifier/softmax_w": [head_rows, 10],
              "classifier/softmax_b": [10]}
  for scope in scopes:
    for gate in gates:
      w, u = {"input_gate": ("wi", "ui"), "forget_gate": ("wf", "wf_1"),
              "control_gate": ("wc", "uc")}[gate]
      expected[f"{scope}/{gate}_{w}"] = [8, 6]
      expected[f"{scope}/{gate}_{u}"] = [6, 6]
      expected[f"{scope}/{gate}_bias"] = [6]
  assert model_vars == expected
  assert is_png(result.plot_path)
  assert 0.0 <= result.test_accuracies[-1] <= 1.0


def test_classifier_job_reads_mnist_npz(tmp_path):
  rng = np.random.RandomState(0)
  path = tmp_path / "mnist.npz"
  np.savez(path, x_train=rng.randint(0, 256, (40, 28, 28)).astype(np.uint8),
           y_train=rng.randint(0, 10, 40), x_test=rng.randint(
               0, 256, (10, 28, 28)).astype(np.uint8),
           y_test=rng.randint(0, 10, 10))
  config = job_configs.ClassifierConfig(epochs=1, hidden_dim=4,
                                        mnist_npz=str(path))
  lines = []
  result = classifier_job.train(config, log=lines.append)
  assert len(result.test_accuracies) == 1 and lines[0].startswith("Epoch 0")


@pytest.mark.slow  # runs the installed command in processes; CI runs it
def test_legacy_addition_cli(tmp_path):
  out = str(tmp_path / "run")
  proc = script_runner.run("legacy_addition", "--epochs=51", "--bits=4",
                           f"--output_dir={out}")
  assert proc.returncode == 0, proc.stderr
  lines = proc.stdout.splitlines()
  assert LOG_LINE.match(lines[0]) and LOG_LINE.match(lines[1])
  assert re.fullmatch(r"\d+", lines[2])
  assert sorted(os.listdir(out)) == [
      "checkpoint", "losses.png", "model.ckpt.data-00000-of-00001",
      "model.ckpt.index", "tensorboard"]
  assert proc.stderr == ""


@pytest.mark.slow  # runs the installed command in processes; CI runs it
def test_legacy_classifier_cli(tmp_path):
  proc = script_runner.run("legacy_classifier", "--epochs=1", "--model=bigru",
                           "--hidden_dim=4", f"--output_dir={tmp_path}")
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout.startswith("Epoch 0: train loss ")


# One case per way a run can be refused; every flag's own bounds are absl's
# (and each job's Config checks its values in-process, tested above).
@pytest.mark.parametrize("script, args, message", [
    ("legacy_classifier", ["--learning_rate=0"], "--learning_rate"),
    ("legacy_classifier", ["--mnist_npz=/no/such.npz"], "no such file"),
])
def test_scripts_reject_bad_flags_with_usage_not_traceback(script, args,
                                                            message):
  proc = script_runner.run(script, *args)
  assert proc.returncode != 0
  assert message in proc.stderr
  assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_default_classifier_reaches_90_percent_on_digits():
  # The GRU; the BiGRU's figure is measured with the CLI (BUILD.md).
  result = classifier_job.train(job_configs.ClassifierConfig(),
                                log=lambda _: None)
  assert result.test_accuracies[-1] >= 0.90, result.test_accuracies

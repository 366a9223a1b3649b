"""The two source jobs' settings and results (plain dataclasses, no
TensorFlow).

The legacy jobs use them as they are; the TF2 jobs extend them with their
own options and outputs, so both sides of a migration share one definition
of the job.
"""

import dataclasses
import numpy as np

from gru_common import checks


def check_positive_ints(config, names):
  for name in names:
    checks.integer(name, getattr(config, name))


# What both versions of a job print and write.
ADDITION_LOG_LINE = "Iteration: %d, train loss: %.4f, test loss: %.4f"
ADDITION_PLOT_NAME = "losses.png"
CLASSIFIER_LOG_LINE = ("Epoch %d: train loss %.4f, train accuracy %.4f, "
                       "test accuracy %.4f")


@dataclasses.dataclass(frozen=True)
class AdditionConfig:
  """The Data Blogger job; the defaults are the source's."""
  seed: int = 0
  epochs: int = 5000
  num_bits: int = 5           # the source's time_size
  batch_size: int = 100       # examples in each of the train and test sets
  hidden_size: int = 16
  input_dimensions: int = 2
  log_every: int = 50
  query_a: int = 1024
  query_b: int = 16
  query_bits: int = 20        # the source's bitstring_length

  def __post_init__(self):
    check_positive_ints(self, ("epochs", "num_bits", "batch_size",
                               "hidden_size", "input_dimensions", "log_every",
                               "query_bits"))
    checks.integer("seed", self.seed, minimum=0)
    for name in ("query_a", "query_b"):
      value = getattr(self, name)
      if not 0 <= value < 2**(self.query_bits - 1):
        raise ValueError(
            f"`{name}` must lie in [0, 2**{self.query_bits - 1}) so the sum "
            f"fits in {self.query_bits} bits, got {value}.")


# CPU threads (intra- and inter-op) both addition jobs run with: the legacy
# job's Session (`legacy.runtime.session_config`) and `gru-tf2-addition
# --threads`. The job's ops are tiny; one thread each measured fastest on 2
# cores (tf2/runtime.py has the figures).
ADDITION_THREADS = 1

CLASSIFIER_MODELS = ("gru", "bigru")
# The TF2 addition job's optimizers: TF1's Adam arithmetic, or Keras's Adam.
ADDITION_OPTIMIZERS = ("tf1", "keras")


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
  """The tutorial's usage as a job. hidden_dim 50 is the tutorial's."""
  seed: int = 0
  epochs: int = 20
  batch_size: int = 64
  hidden_dim: int = 50
  model: str = "gru"
  reset_gate: bool = True
  learning_rate: float = 0.01
  mnist_npz: str = None

  def __post_init__(self):
    check_positive_ints(self, ("epochs", "batch_size", "hidden_dim"))
    checks.integer("seed", self.seed, minimum=0)
    if self.model not in CLASSIFIER_MODELS:
      raise ValueError(f"`model` must be one of {CLASSIFIER_MODELS}, got "
                       f"{self.model!r}.")
    if not self.learning_rate > 0:
      raise ValueError(
          f"`learning_rate` must be > 0, got {self.learning_rate!r}.")


@dataclasses.dataclass
class AdditionResult:
  """What a run of the addition job produced."""
  train_losses: np.ndarray
  test_losses: np.ndarray
  query_output: np.ndarray
  prediction: int
  initial_values: dict
  final_values: dict
  wall_time_s: float
  checkpoint_prefix: str = None
  plot_path: str = None
  summary_dir: str = None


@dataclasses.dataclass
class ClassifierResult:
  """What a run of the sequence classifier produced."""
  train_losses: np.ndarray
  train_accuracies: np.ndarray
  test_accuracies: np.ndarray
  wall_time_s: float
  checkpoint_prefix: str = None
  plot_path: str = None

"""Training curves as PNG files (matplotlib, no display needed)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position

from gru_common import files  # pylint: disable=g-import-not-at-top,wrong-import-position


def save_curves(path, curves, title, ylabel="loss", log_scale=True,
                xlabel="epoch"):
  """Plots named curves on one axis and writes them to `path`.

  Args:
    path: the PNG file to write (its folder must exist).
    curves: a list of (label, values, matplotlib format) tuples.
    title: the figure title.
    ylabel: the y-axis label.
    log_scale: plot the y axis on a log scale.
    xlabel: the x-axis label.

  Returns:
    `path`.
  """
  fig, ax = plt.subplots(figsize=(8, 4.5))
  for label, values, fmt in curves:
    ax.plot(values, fmt, label=label)
  if log_scale:
    ax.set_yscale("log")
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  ax.set_title(title)
  ax.grid(True, alpha=0.3)
  ax.legend()
  return save_figure(fig, path)


def save_classifier_curves(path, result, title):
  """Both classifier jobs' plot: a `ClassifierResult`'s training loss and
  accuracy and its test accuracy per epoch; returns `path`."""
  return save_curves(
      path, [("train loss", result.train_losses, "-b"),
             ("train accuracy", result.train_accuracies, "-g"),
             ("test accuracy", result.test_accuracies, "-r")],
      title=title, ylabel="loss / accuracy", log_scale=False)


def subplots(*args, **kwargs):
  """`matplotlib.pyplot.subplots`, with the non-interactive backend."""
  return plt.subplots(*args, **kwargs)


def save_figure(fig, path):
  """Writes `fig` to `path` as a PNG atomically (`files.replacing`), closes
  it and returns `path`."""
  fig.tight_layout()
  with files.replacing(path) as tmp:
    fig.savefig(tmp, dpi=100, format="png")
  plt.close(fig)
  return path

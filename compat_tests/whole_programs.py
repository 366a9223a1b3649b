"""The real programs' goldens (`compat_tests.real_programs`) as whole
programs for the converter: what `tf1-convert-checkpoint --outputs` is
asked for each, and what the program computed.

    case(name) -> Case(outputs, feed, probe, recorded)

`outputs` are every output the golden recorded (`tensors.json`), `feed`
the scalar placeholders it fed (`--feed`: is_training, keep
probabilities, fixed sizes), `probe` its other feeds by placeholder name
(what `--probe` reads), `recorded` the program's outputs on them.
"""

import dataclasses
import json
import os

import numpy as np

from compat_tests import real_programs


@dataclasses.dataclass
class Case:
  outputs: list      # tensor names
  feed: str          # NAME=VALUE,...
  probe: dict        # placeholder op name -> array
  recorded: dict     # tensor name -> array


def _flat(tensors, value):
  """[(tensor, value)] of one golden entry: a tensor, or a list of them
  whose values are stacked on a new first axis."""
  if isinstance(tensors, list):
    return list(zip(tensors, value))
  return [(tensors, value)]


def case(name):
  folder = os.path.join(real_programs.FOLDER, name)
  with open(os.path.join(folder, real_programs.TENSORS)) as f:
    tensors = json.load(f)
  with np.load(os.path.join(folder, real_programs.OUTPUTS)) as f:
    values = {k: f[k] for k in f.files}
  outputs, recorded = [], {}
  for key, names in tensors["outputs"].items():
    for tensor, value in _flat(names, values[f"output.{key}"]):
      outputs.append(tensor)
      recorded[tensor] = value
  feed, probe = [], {}
  for key, names in tensors["feeds"].items():
    for tensor, value in _flat(names, values[f"feed.{key}"]):
      op = tensor.split(":")[0]
      if np.ndim(value) == 0:
        item = value.item()
        feed.append(f"{op}={str(item).lower() if isinstance(item, bool) else item}")
      else:
        probe[op] = value
  return Case(outputs, ",".join(feed), probe, recorded)


def write_probe(case_, path):
  """Writes `case_.probe` as the .npz `--probe` reads; returns `path`."""
  np.savez(path, **case_.probe)
  return path

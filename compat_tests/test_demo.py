"""The main job: legacy training, conversion, agreement table, plot."""

import os

import numpy as np

from gru_common import compare
from gru_common import job_configs
from gru_common import tolerances
from proof import demo

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_demo_shows_agreement(tmp_path):
  lines = []
  config = job_configs.AdditionConfig(epochs=100)
  result = demo.run(str(tmp_path), config, log=lines.append)
  assert demo.check(result, tolerances.STOCK_KERAS.float64) == []
  by_model = {(r.model, r.data): r for r in result.rows}
  for data in ("test set", "query"):
    assert by_model[("TF2 (this project)", data)].result.bitwise
    assert by_model[("legacy (TF1 graph)", data)].result.bitwise
    keras_row = by_model[("stock Keras", data)]
    assert keras_row.result.within(tolerances.STOCK_KERAS.float64)
  assert len(set(result.predictions.values())) == 1
  assert any(l.startswith("model ") and "bitwise" in l for l in lines)
  with open(result.files["plot"], "rb") as f:
    assert f.read(8) == PNG_MAGIC
  for label in ("TF2 (this project)", "stock Keras"):
    assert os.path.isfile(result.files[label])


def test_check_reports_broken_promises():
  off = compare.compare(np.float64([1.0]), np.float64([1.5]))
  result = demo.Result(legacy=None, rows=[
      demo.Agreement("TF2 (this project)", "query", off, ""),
      demo.Agreement("stock Keras", "query", off, "")], files={},
                       predictions={"legacy": 1040, "TF2": 1041})
  failures = demo.check(result, 1e-12)
  assert len(failures) == 3

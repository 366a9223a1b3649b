"""The model description and the kind plug-ins: programs no detector writes
yet fit the type, and a new kind needs nothing but its own module."""

import dataclasses

import keras
import numpy as np
import pytest

from gru_common import compare
from migration import convert
from migration import description as description_lib
from migration import mapping
from migration import models
from migration import tf1_checkpoint
from migration import verification
from migration.kinds import base
from migration.kinds import dense
from migration.kinds import embedding
from migration.kinds import tf1_gru_cells

D = description_lib
VOCABULARY, EMBED, UNITS = 20, 6, 5


def rnn(name, source, path, input_dim, initial_state=()):
  component = tf1_gru_cells.make(tf1_gru_cells.GRU_CELL, (UNITS,), input_dim,
                                 "float32", (path,), tf1_gru_cells.SINGLE)
  return dataclasses.replace(component, name=name, wiring=D.Wiring(
      source=source, initial_state=initial_state))


def token_program(initial_state=()):
  """Token ids -> embedding -> encoder GRU -> decoder GRU -> logits."""
  return D.Description(
      inputs=(D.Input("ids", features=None, dtype="int32"),),
      components=(
          D.Component("embedding", "embed", "float32", (EMBED,), VOCABULARY,
                      D.Wiring(source="ids"), "model",
                      embedding.EmbeddingSettings("embedding", "embed")),
          rnn("encoder", "embed", "encoder/gru_cell", EMBED),
          rnn("decoder", "encoder", "decoder/gru_cell", UNITS,
              initial_state),
          D.Component("dense", "logits", "float32", (VOCABULARY,), UNITS,
                      D.Wiring(source="decoder"), "output",
                      dense.DenseSettings("softmax_w", "softmax_b",
                                          "logits"))))


def random_values(description, seed=0):
  rng = np.random.RandomState(seed)
  return {n: rng.normal(0, 0.5, s).astype(description.dtype)
          for n, s in description.shapes().items()}


class TestTheTypeHoldsWholePrograms:

  def test_variables_in_order_under_their_scopes(self):
    program = token_program()
    assert list(program.shapes().items()) == [
        ("model/embedding", (VOCABULARY, EMBED)),
        ("encoder/gru_cell/gates/kernel", (EMBED + UNITS, 2 * UNITS)),
        ("encoder/gru_cell/gates/bias", (2 * UNITS,)),
        ("encoder/gru_cell/candidate/kernel", (EMBED + UNITS, UNITS)),
        ("encoder/gru_cell/candidate/bias", (UNITS,)),
        ("decoder/gru_cell/gates/kernel", (2 * UNITS, 2 * UNITS)),
        ("decoder/gru_cell/gates/bias", (2 * UNITS,)),
        ("decoder/gru_cell/candidate/kernel", (2 * UNITS, UNITS)),
        ("decoder/gru_cell/candidate/bias", (UNITS,)),
        ("output/softmax_w", (UNITS, VOCABULARY)),
        ("output/softmax_b", (VOCABULARY,))]
    assert program.output_names() == ("embed", "encoder", "decoder",
                                      "logits")

  @pytest.mark.parametrize("target", mapping.TARGETS)
  def test_every_weight_placed_once_and_back_bitwise(self, target):
    program = token_program()
    model = models.build(program, target)
    assert model.inputs[0].dtype == "int32"
    places = mapping.placements(program, model, target)
    values = random_values(program)
    mapping.to_model(values, places)
    back = mapping.from_model(places)
    assert sorted(back) == sorted(values)
    for name, value in values.items():
      assert compare.bitwise_equal(back[name], value), name

  def test_stock_keras_computes_the_exact_layers_outputs(self):
    # Stock Keras (GRU, Embedding, Dense) against this project's exact
    # layers (TF1's cell op for op), every component's output.
    program = token_program()
    state = tf1_checkpoint.LegacyState(program, random_values(program))
    model, _ = convert.to_keras(state, mapping.KERAS)
    checks = verification.verify_outputs(state, model, mapping.KERAS)
    assert [c.name for c in checks] == list(program.output_names())
    assert all(c.passed for c in checks), checks

  def test_onnx_runs_the_whole_program(self):
    pytest.importorskip("onnxruntime", reason="pip install '.[onnx]'")
    from migration import onnx_export  # pylint: disable=g-import-not-at-top
    program = token_program()
    state = tf1_checkpoint.LegacyState(program, random_values(program))
    stock, _ = convert.to_keras(state, mapping.KERAS)
    data = onnx_export.from_keras_model(stock, program).SerializeToString()
    checks = verification.verify_onnx(state, data)
    assert [c.name for c in checks] == list(program.output_names())
    assert all(c.passed for c in checks), checks

  def test_an_initial_state_fits_and_is_refused_by_name_when_built(self):
    program = token_program(initial_state=("encoder",))
    assert program.get("decoder").wiring.initial_state == ("encoder",)
    with pytest.raises(mapping.MappingError,
                       match="decoder: .* starting it from \\['encoder'\\]"):
      models.build(program, mapping.TF2)

  @pytest.mark.parametrize("edit, match", [
      (lambda c: c[:1] + (dataclasses.replace(c[1], wiring=D.Wiring(
          source="nowhere")),) + c[2:], "encoder reads 'nowhere'"),
      (lambda c: c + (dataclasses.replace(c[-1], scope="again"),),
       "two parts of the model are named 'logits'"),
      (lambda c: c[1:], "embed.*neither an input nor an earlier component"),
  ])
  def test_bad_wiring_refused_by_name(self, edit, match):
    program = token_program()
    with pytest.raises(D.SpecError, match=match):
      D.Description(edit(program.components), program.inputs)

  def test_an_input_of_token_ids_must_be_integers(self):
    with pytest.raises(D.SpecError, match="token ids are one of"):
      D.Input("ids", features=None, dtype="float32")


@dataclasses.dataclass(frozen=True)
class _NormSettings:
  layer: str = "norm"


class _LayerNorm(base.Kind):
  """A kind defined here and nowhere else: TF1's `gamma` as Keras's
  LayerNormalization (no centering)."""

  name = "test_layer_norm"
  output_name = "norm"

  def variables(self, component):
    return {D.join(component.scope, "gamma"): (component.input_dim,)}

  def width(self, component):
    return component.input_dim

  def describe(self, component):
    return "layer norm"

  def rows(self, component, target):
    return (mapping.Row("gamma", "gamma"),)

  def layer_names(self, component):
    return (component.settings.layer,)

  def cells(self, component, model):
    return [(component.scope, model.get_layer(component.settings.layer),
             component.input_dim, component.input_dim)]

  def build(self, component, target, x, outputs):
    return keras.layers.LayerNormalization(
        center=False, epsilon=1e-3, dtype=component.dtype,
        name=component.settings.layer)(x)


def test_a_new_kind_is_one_module_registered(monkeypatch):
  # Registering is all it takes: description, build, mapping, conversion and
  # verification run it without a change to migration/.
  kind = _LayerNorm()
  monkeypatch.setitem(base._REGISTRY, kind.name, kind)  # pylint: disable=protected-access
  program = D.Description((
      rnn("rnn", D.INPUT, "rnn/gru_cell", 3),
      D.Component(kind.name, "norm", "float32", (UNITS,), UNITS,
                  D.Wiring(source="rnn"), "norm", _NormSettings())))
  values = random_values(program)
  state = tf1_checkpoint.LegacyState(program, values)
  model, _ = convert.to_keras(state, mapping.TF2)
  assert compare.bitwise_equal(model.get_layer("norm").gamma.numpy(),
                               values["norm/gamma"])
  x = verification.probe_inputs(program)
  outputs = verification.model_outputs(model, program, x)
  rnn_out = outputs["rnn"]
  mean = rnn_out.mean(-1, keepdims=True)
  variance = rnn_out.var(-1, keepdims=True)
  want = (rnn_out - mean) / np.sqrt(variance + 1e-3) * values["norm/gamma"]
  assert compare.compare(outputs["norm"], want).within(1e-5)
  checks = verification.verify_outputs(state, model, mapping.TF2, x=x)
  assert [c.name for c in checks] == ["rnn", "norm"]
  assert all(c.result.bitwise for c in checks)

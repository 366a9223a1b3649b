"""A dense layer: y = x @ kernel + bias, on the last axis.

    TF1 (under the component's scope)   Keras
    <kernel> [input_dim, units]         Dense.kernel
    <bias> [units]                      Dense.bias

`DenseSettings` names the two TF1 variables (TF1 programs name them freely:
`dense/kernel`, `softmax_w`, `Variable`) and the Keras layer. No detector
writes a bare dense layer yet; the seeds' heads (`kinds/seeds.py`) are dense
layers with settings of their own.
"""

import dataclasses

from migration import description as description_lib
from migration import mapping
from migration.kinds import base


@dataclasses.dataclass(frozen=True)
class DenseSettings:
  kernel: str = "dense/kernel"   # TF1 names, relative to the scope
  bias: str = "dense/bias"
  layer: str = "dense"           # the Keras layer's name


class Dense(base.Kind):
  """`keras.layers.Dense(units)` with a linear activation."""

  name = "dense"
  output_name = "dense"

  def check(self, component):
    base.check_single_layer(component, DenseSettings, "a dense layer")

  def width(self, component):
    return component.units[0]

  def variable_names(self, component):
    return (component.settings.kernel, component.settings.bias)

  def variables(self, component):
    kernel, bias = (description_lib.join(component.scope, n)
                    for n in self.variable_names(component))
    return {kernel: (component.input_dim, component.units[0]),
            bias: (component.units[0],)}

  def describe(self, component):
    return f"dense layer ({component.units[0]} outputs)"

  def rows(self, component, target):
    kernel, bias = self.variable_names(component)
    return (mapping.Row(kernel, "kernel"), mapping.Row(bias, "bias"))

  def layer_names(self, component):
    return (component.settings.layer,)

  def cells(self, component, model):
    layer = model.get_layer(self.layer_names(component)[-1])
    return [(component.scope, layer, component.input_dim,
             component.units[0])]

  def build(self, component, target, x, outputs):
    import keras  # pylint: disable=g-import-not-at-top
    return keras.layers.Dense(component.units[0], dtype=component.dtype,
                              name=component.settings.layer)(x)

  def onnx(self, graph, component, model, x, lengths):
    return graph.dense(model.get_layer(component.settings.layer), x)


DENSE = base.register(Dense())

"""An embedding: token ids [batch, time] -> vectors [batch, time, units].

    TF1 (under the component's scope)      Keras
    <variable> [input_dim (vocabulary), units]   Embedding.embeddings

The component's `input_dim` is the vocabulary size, as in
`keras.layers.Embedding(input_dim, output_dim)`. No detector writes one yet
(`tf.nn.embedding_lookup` is read from the program's graph, which a later
converter step does); the description type and the mapping hold it.
"""

import dataclasses

from migration import description as description_lib
from migration import mapping
from migration.kinds import base


@dataclasses.dataclass(frozen=True)
class EmbeddingSettings:
  variable: str = "embedding"    # the TF1 name, relative to the scope
  layer: str = "embedding"       # the Keras layer's name


class Embedding(base.Kind):
  """`keras.layers.Embedding(input_dim, units)`."""

  name = "embedding"
  output_name = "embedding"

  def check(self, component):
    base.check_single_layer(component, EmbeddingSettings, "an embedding")

  def width(self, component):
    return component.units[0]

  def variables(self, component):
    name = description_lib.join(component.scope, component.settings.variable)
    return {name: (component.input_dim, component.units[0])}

  def describe(self, component):
    return (f"embedding ({component.input_dim} ids -> {component.units[0]} "
            "features)")

  def rows(self, component, target):
    return (mapping.Row(component.settings.variable, "embeddings"),)

  def layer_names(self, component):
    return (component.settings.layer,)

  def cells(self, component, model):
    return [(component.scope, model.get_layer(component.settings.layer),
             component.input_dim, component.units[0])]

  def build(self, component, target, x, outputs):
    import keras  # pylint: disable=g-import-not-at-top
    return keras.layers.Embedding(component.input_dim, component.units[0],
                                  dtype=component.dtype,
                                  name=component.settings.layer)(x)

  def probe(self, component, rng, shape, dtype):
    """Token ids below the vocabulary."""
    return rng.randint(0, component.input_dim, shape).astype(dtype)

  def onnx(self, graph, component, model, x, lengths):
    return graph.gather(model.get_layer(component.settings.layer), x)


EMBEDDING = base.register(Embedding())

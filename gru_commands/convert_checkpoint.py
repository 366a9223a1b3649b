"""Converts TF1 checkpoints to TF2 models and back, exactly.

The direction follows from --input:

  a TF1 checkpoint prefix (or a folder with a `checkpoint` file)
      --output=FILE.keras   a .keras model (and optimizer, if the checkpoint
                            has Adam state)
      --output=PREFIX       a TF2 checkpoint (tf.train.Checkpoint with
                            model= and optimizer=)
  either
      --output=FILE.onnx    an ONNX model (ONNX's GRU and LSTM operators
                            and head ops; a Scan of the cell's step where
                            they cannot compute it: float64, the tutorial
                            GRU without a reset gate, LSTM projection,
                            clipping, layer norm); --verify runs it in
                            onnxruntime against the TF1 side
  a .keras file
      --output=PREFIX       a TF1 checkpoint that the legacy graph restores
                            with tf.compat.v1.train.Saver; refused, naming
                            the layer and field, unless the model computes
                            what the legacy graph computes

A TF1 checkpoint may hold the seed GRUs or TensorFlow's TF1 GRU cells under
any variable scope, next to other layers, a step counter and an optimizer's
slots (tf1-inspect-checkpoint lists what it holds, numbering every RNN
layer). One RNN converts at a time: --scope picks it, --layer=N one of
several layers under one scope (DeepSpeech2's); --scope alone converts the
layers under it as one stack where the program's graph shows each feeding
the next. TF1 Adam state converts exactly, the step counter into the
optimizer's `iterations`. Anything that would be left behind is refused,
named, unless --allow_unconverted (other variables) or
--drop_optimizer_state (other optimizers' state) says to leave it; the
summary lists what was. The converted model's name records the scopes, so
converting it back writes the same names.

The program's graph (the .meta TF1's Saver writes beside the checkpoint,
or --meta) is read, never trusted: it tells which cell both directions
share, which variables are learned initial states (converted as weights),
what the step counter is, and how layers are wired; --verify checks the
converted layers against it, running only pure computation of it.
--initial_state_inputs gives the model its RNN's initial states as inputs
(a decoder started from an encoder's state).

--target picks the TF2 layers: `tf2` (this project's, bitwise equal to the
legacy graph) or `keras` (stock keras.layers.GRU/Dense/Bidirectional, and
tf2.LearnedInitialState only where the program learned initial states).
--verify runs source and converted model on a probe batch, prints per
output the max abs difference and whether it is bitwise equal, says what
it compared with (the program's own graph, or this project's reference and
why), and publishes the output only if every difference is within its
bound.

--outputs converts the whole program instead of one RNN: the tensors it
names are the model's outputs, and the program's graph between its
placeholders and them becomes one Keras functional model: its RNN loops the
converted layers of their kinds, embeddings, dense layers, convolutions,
pooling and batch norms the stock Keras layers, every other op the matching
keras.ops function. An op without a translation is refused by name, with
where it is; nothing is approximated. --verify then runs the program's own
graph (only the pure ops the outputs need) on a probe batch and compares
every output.

  tf1-convert-checkpoint --input=run/model.ckpt --outputs=logits,probs \
      --feed=keep_prob=1.0 --output=model.keras --verify

With --output=FILE.onnx the same program becomes one ONNX graph (its inputs
the placeholders, its outputs the tensors, by name), verified in
onnxruntime against the program's graph.

and back, after training in Keras, to the program's own checkpoint format
(--meta: the .meta beside the program's checkpoint, which supplies the
variables the model does not hold):

  tf1-convert-checkpoint --input=model.keras --outputs=logits,probs \
      --feed=keep_prob=1.0 --meta=run/model.ckpt.meta \
      --output=run_tuned/model.ckpt --verify

The input is never touched: an output that would replace or remove any of
its files is refused. The output appears whole or not at all: a refused,
failed or interrupted conversion leaves it as it was, and an existing output
is replaced only with --overwrite. Missing folders are created. Every
failure is one line, `tf1-convert-checkpoint: error: ...`, and exit status 1.

  tf1-convert-checkpoint --input=runs/legacy_addition/model.ckpt \\
      --output=runs/addition.keras --target=keras --verify
"""

import sys

from absl import app
from absl import flags

import gru_commands
from migration import mapping
from migration.kinds import seeds

_INPUT = flags.DEFINE_string("input", None, "A TF1 checkpoint prefix (or "
                             "folder), or a .keras file.", required=True)
_OUTPUT = flags.DEFINE_string("output", None, "A .keras file, a checkpoint "
                              "prefix or an .onnx file (see above).",
                              required=True)
_TARGET = flags.DEFINE_enum("target", mapping.TF2, mapping.TARGETS,
                            "For a TF1 input and a .keras or checkpoint "
                            "output: this project's layers (tf2) or stock "
                            "Keras layers only (keras). An .onnx output "
                            "needs none.")
_FAMILY = flags.DEFINE_enum(
    "family", None, seeds.FAMILIES,
    "For a .keras input of stock Keras layers not written by this tool: "
    "which legacy GRU it holds (scan: Data Blogger, loop: tutorial).")
_VERIFY = flags.DEFINE_bool("verify", False, "Compare source and converted "
                            "model on a probe batch; publish the output only "
                            "if every difference is within its bound (exit 1 "
                            "otherwise).")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing "
                               "output.")
_SCOPE = flags.DEFINE_string(
    "scope", None, "Which RNN of a TF1 checkpoint to convert, by its "
    "variable scope ('' for the root); needed only when it holds several "
    "(tf1-inspect-checkpoint lists them). For a .keras input: write the RNN "
    "and its head under this scope instead of the recorded one.")
_LAYER = flags.DEFINE_integer(
    "layer", None, "Which RNN of a TF1 checkpoint to convert, by the number "
    "tf1-inspect-checkpoint gives it (1, 2, ...): for several RNN layers "
    "under one scope, as DeepSpeech2 builds them. With --scope, the layer "
    "must be under that scope.", lower_bound=1)
_INITIAL_STATE_INPUTS = flags.DEFINE_bool(
    "initial_state_inputs", False, "The converted RNN takes each cell's "
    "initial state as a model input ([batch, units]; named initial_state, "
    "initial_state_fw/_bw, initial_state_<layer>) instead of starting from "
    "zeros: for a decoder the program started from an encoder's final "
    "state.")
_LEARNED_INITIAL_STATES = flags.DEFINE_list(
    "learned_initial_states", None, "Variables that start the RNN's cells, "
    "one per cell in the order tf1-inspect-checkpoint lists the cells "
    "([1, units] or [units]): learned initial states the program's graph "
    "is not there to show. Converted as weights.")
_META = flags.DEFINE_string(
    "meta", None, "The program's graph (the .meta TF1's Saver writes), when "
    "it is not PREFIX.meta beside the checkpoint. It shows how layers under "
    "one scope are wired (--scope converts them as one stack only where "
    "each feeds the next), and --verify compares with it.")
_FORGET_BIAS = flags.DEFINE_float(
    "forget_bias", None, "A TF1 LSTM's forget bias, which its checkpoint "
    "does not hold: added to the forget gate at run time (TF 1.15's default "
    "1.0; 0.0 for the cuDNN cells). Read from the program's graph when its "
    ".meta is there, which this flag may not contradict; the summary says "
    "which value was used and where it came from.")
_ALLOW_UNCONVERTED = flags.DEFINE_bool(
    "allow_unconverted", False, "Convert even though other variables of the "
    "TF1 checkpoint (other layers, other RNNs, EMA shadows without "
    "--use_ema) are left behind; the summary lists them.")
_DROP_OPTIMIZER_STATE = flags.DEFINE_bool(
    "drop_optimizer_state", False, "Convert the weights only: the optimizer "
    "state (any TF1 optimizer's slots, Adam's beta powers, global_step) is "
    "dropped and listed. Without it, state other than TF1 Adam's is "
    "refused.")
_OUTPUTS = flags.DEFINE_list(
    "outputs", None, "Convert the whole program computing these tensors of "
    "its graph ('scope/op:0', or an op name for its output 0: logits, "
    "output/scores) into one Keras model (--output=FILE.keras). Needs the "
    "program's .meta. Every placeholder the outputs read becomes a model "
    "input named after it, unless --feed fixes it.")
_FEED = flags.DEFINE_string(
    "feed", None, "With --outputs: NAME=VALUE,... fixes scalar placeholders "
    "that matter only in training (keep_prob=1.0, is_training=false).")
_PROBE = flags.DEFINE_string(
    "probe", None, "With --outputs --verify: an .npz of the model's inputs, "
    "by placeholder name, to verify on instead of drawn ones.")
_USE_EMA = flags.DEFINE_bool(
    "use_ema", False, "Convert the ExponentialMovingAverage shadows (the "
    "averaged weights TF1 users usually served) instead of the raw weights.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  # Imported after flag parsing: --help and flag errors stay instant.
  from gru_commands import conversion  # pylint: disable=g-import-not-at-top
  return conversion.command(
      _INPUT.value, _OUTPUT.value, target=_TARGET.value,
      family=_FAMILY.value, verify=_VERIFY.value, overwrite=_OVERWRITE.value,
      stdout=sys.stdout, stderr=sys.stderr, scope=_SCOPE.value,
      layer=_LAYER.value, meta=_META.value,
      initial_state_inputs=_INITIAL_STATE_INPUTS.value,
      learned_initial_states=_LEARNED_INITIAL_STATES.value,
      forget_bias=_FORGET_BIAS.value,
      allow_unconverted=_ALLOW_UNCONVERTED.value,
      drop_optimizer_state=_DROP_OPTIMIZER_STATE.value,
      use_ema=_USE_EMA.value, outputs=_OUTPUTS.value, feed=_FEED.value,
      probe=_PROBE.value)


def run():
  gru_commands.run(main)


if __name__ == "__main__":
  run()

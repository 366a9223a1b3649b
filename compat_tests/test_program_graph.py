"""Real TF1 programs, read with their own graphs (`.meta`): every RNN layer
found, in a stable order; layers and stacks only as the graph wires them;
learned and given initial states; weight-tied directions; step counters by
what the graph does; and `--verify` against the program's own graph,
running only pure computation of it.

The programs are `compat_tests/real_programs` (their goldens hold each RNN
layer's input and outputs as the program computed them). A user's folder
has `model.ckpt.meta` beside the checkpoint, so the fixture writes one.
"""

import io
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from compat_tests import golden_files
from compat_tests import real_programs
from compat_tests import script_runner
from compat_tests.test_converter_safety import assert_refused
from gru_commands import conversion
from gru_common import compare
from gru_common import tolerances
from migration import exporters
from migration import mapping
from migration import publish
from migration import selection
from migration import tf1_checkpoint
from migration import tf1_graph
from migration.kinds import tf1_gru_cells
import tf2

# Stock Keras layers against TF's own cells in the program's graph; this
# project's exact layers, compiled as `predict` and `fit` run them, are
# bitwise (`Kind.graph_bound`).
STOCK = tolerances.TF1_CELL_STOCK.for_dtype("float32")
DEEP_SPEECH_LAYERS = 5


def golden(name):
  folder = os.path.join(real_programs.FOLDER, name)
  with np.load(os.path.join(folder, real_programs.OUTPUTS)) as f:
    return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
  """{program: checkpoint prefix}, each beside its plain `.meta`."""
  root = str(tmp_path_factory.mktemp("programs"))
  return {name: real_programs.as_user_has_it(name, root)
          for name in real_programs.PROGRAMS}


def convert(prefix, path, **options):
  return exporters.convert_path(prefix, path, verify=True,
                                allow_unconverted=True, **options)


def run_command(*args, **kwargs):
  out, err = io.StringIO(), io.StringIO()
  status = conversion.command(*args, stdout=out, stderr=err, **kwargs)
  return status, out.getvalue(), err.getvalue()


def check(got, want, bound=STOCK):
  result = compare.compare(np.asarray(got), want)
  assert result.bitwise if bound == 0 else result.within(bound), (
      result.max_abs, bound)


class TestDeepSpeech2:
  """TensorFlow's DeepSpeech2: 5 BiGRU layers under one scope, told apart by
  their cells' names, batch norm between them."""

  @pytest.mark.slow
  def test_inspect_is_stable_and_lists_every_layer(self, programs):
    outputs = set()
    for seed in range(2):    # two hash seeds: another order shows as a diff
      proc = script_runner.run(
          "inspect_checkpoint", f"--input={programs['deep_speech2']}",
          env={"PYTHONHASHSEED": str(seed)})
      assert proc.returncode == 0, proc.stderr
      outputs.add(proc.stdout)
    (text,) = outputs
    for i in range(1, DEEP_SPEECH_LAYERS + 1):
      assert (f"RNN {i} at scope 'bidirectional_rnn': TF1 bidirectional "
              f"GRUCell\n") in text
      assert f"  cells: fw/rnn_fw_{i}, bw/rnn_bw_{i}\n" in text

  @pytest.mark.parametrize("layer", range(1, DEEP_SPEECH_LAYERS + 1))
  def test_each_layer_alone_computes_the_programs_layer(self, programs,
                                                        layer, tmp_path):
    report = convert(programs["deep_speech2"], str(tmp_path / "m.keras"),
                     layer=layer, target=mapping.KERAS)
    assert report.published and "the program's own graph" in report.summary
    assert [c.name for c in report.checks] == ["rnn fw", "rnn bw"]
    assert all(c.passed for c in report.checks), report.checks
    # And on the program's own recorded values, not through --verify.
    values = golden("deep_speech2")
    model = exporters.load_keras_file(str(tmp_path / "m.keras"))
    got = np.asarray(model(values[f"rnn.rnn_{layer}.input"]))
    check(got[..., :4], values[f"rnn.rnn_{layer}.output_fw"])
    check(got[..., 4:], values[f"rnn.rnn_{layer}.output_bw"])

  def test_a_stack_is_refused_naming_the_batch_norm(self, programs,
                                                    tmp_path):
    status, _, err = run_command(programs["deep_speech2"],
                                 str(tmp_path / "stack.keras"),
                                 scope="bidirectional_rnn",
                                 allow_unconverted=True)
    assert_refused(status, err, "are not a stack: between layer 1 and layer "
                   "2 the program computes batch_normalization_2/")
    assert "; pass --layer=... to convert one layer" in err
    assert os.listdir(tmp_path) == []

  def test_without_the_meta_layers_never_stack(self, programs, tmp_path):
    folder = tmp_path / "no_meta"
    folder.mkdir()
    for f in publish.checkpoint_files(programs["deep_speech2"]):
      shutil.copy(f, folder)
    status, _, err = run_command(str(folder / "model.ckpt"),
                                 str(tmp_path / "stack.keras"),
                                 scope="bidirectional_rnn",
                                 allow_unconverted=True)
    assert_refused(status, err, "without the program's .meta nothing shows "
                   "how they are wired")

  def test_directions_paired_wrong_fail_verification(self, programs,
                                                     tmp_path, monkeypatch):
    # A converter that paired layer 3's forward cell with layer 4's
    # backward cell: the program's graph shows they are no layer of it.
    pair = {f"rnn_fw_{i}": f"rnn_bw_{i % 5 + 1}" for i in range(1, 6)}
    monkeypatch.setattr(tf1_gru_cells, "_counterpart", pair.get)
    output = tmp_path / "wrong.keras"
    status, _, err = run_command(programs["deep_speech2"], str(output),
                                 layer=3, verify=True, allow_unconverted=True)
    assert_refused(status, err, "verification failed: in the program's "
                   "graph the converted layer's cells read different "
                   "tensors")
    assert os.listdir(tmp_path) == []


def edited_meta(prefix, folder, edit):
  """A copy of the program beside its `.meta`, edited by edit(graph_def)."""
  folder.mkdir()
  for f in publish.checkpoint_files(prefix):
    shutil.copy(f, folder)
  meta = tf.compat.v1.MetaGraphDef()
  with open(prefix + ".meta", "rb") as f:
    meta.ParseFromString(f.read())
  edit(meta.graph_def)
  (folder / "model.ckpt.meta").write_bytes(meta.SerializeToString())
  return str(folder / "model.ckpt")


def node(graph_def, name):
  return next(n for n in graph_def.node if n.name == name)


class TestOnlyPureComputationRuns:

  def test_a_write_file_in_the_needed_ops_is_refused_and_nothing_runs(
      self, programs, tmp_path):
    target = tmp_path / "written_by_the_graph.txt"

    def plant(graph_def):
      for name, value in (("evil/filename", str(target).encode()),
                          ("evil/contents", b"pwned")):
        const = graph_def.node.add(name=name, op="Const")
        const.attr["dtype"].type = tf.string.as_datatype_enum
        const.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
      graph_def.node.add(name="evil/WriteFile", op="WriteFile",
                         input=["evil/filename", "evil/contents"])
      # Layer 2's forward loop starts only after the write.
      state = node(graph_def, "bidirectional_rnn_1/fw/fw/while/Enter_3")
      state.input.append("^evil/WriteFile")

    prefix = edited_meta(programs["deep_speech2"], tmp_path / "program",
                         plant)
    output = tmp_path / "out.keras"
    status, _, err = run_command(prefix, str(output), layer=2, verify=True,
                                 allow_unconverted=True)
    assert_refused(status, err, "not pure computation, so nothing was run: "
                   "evil/WriteFile (WriteFile)")
    assert not target.exists() and not output.exists()

  @pytest.mark.parametrize("write", [False, True])
  def test_a_tf2_loops_body_runs_only_if_pure(self, tmp_path, write):
    # TF1 code run on TF 2.x writes While ops whose bodies are functions
    # of the graph's library: they are checked op by op too.
    target = tmp_path / "written_by_the_loop.txt"
    with tf.Graph().as_default() as g:
      x = tf.compat.v1.placeholder(tf.float32, [None], name="x")

      def body(i, value):
        effects = [tf.io.write_file(str(target), "pwned")] if write else []
        with tf.control_dependencies(effects):
          return i + 1, value * 2.0

      _, out = tf.compat.v1.while_loop(lambda i, _: i < 3, body, [0, x])
    graph_def = g.as_graph_def()
    assert {n.op for n in graph_def.node} & {"While", "StatelessWhile"}
    graph = tf1_graph.ProgramGraph(graph_def.node, "<test>",
                                   graph_def.library.function)
    run = lambda: tf1_graph.run(graph, [out.name],
                                {"x:0": np.ones(2, np.float32)}, {})
    if write:
      with pytest.raises(tf1_graph.UnsafeGraph,
                         match=r"/.*WriteFile \(WriteFile\)"):
        run()
      assert not target.exists()
    else:
      np.testing.assert_array_equal(run()[0], [8.0, 8.0])

  def test_an_op_this_tensorflow_lacks_falls_back_and_says_so(
      self, programs, tmp_path):
    def rename(graph_def):
      # seq2seq beam search's op, which TensorFlow 2.21 no longer has.
      node(graph_def, "bidirectional_rnn_1/fw/fw/while/rnn_fw_2/Sigmoid"
           ).op = "GatherTree"

    prefix = edited_meta(programs["deep_speech2"], tmp_path / "program",
                         rename)
    report = convert(prefix, str(tmp_path / "out.keras"), layer=2)
    assert report.published
    assert ("not the program's graph: " in report.summary and
            "needs ops this TensorFlow does not have: GatherTree"
            in report.summary)

  def test_a_graph_of_other_variables_is_refused_by_name(self, programs,
                                                         tmp_path):
    old = "bidirectional_rnn/fw/rnn_fw_2/gates/kernel"
    new = "bidirectional_rnn/fw/rnn_fw_2/gates/weights"

    def rename(graph_def):
      # The variable, under another name the checkpoint does not hold.
      for n in graph_def.node:
        for i, name in enumerate(n.input):
          if name.lstrip("^") == old:
            n.input[i] = name.replace(old, new)
        if n.name == old:
          n.name = new

    prefix = edited_meta(programs["deep_speech2"], tmp_path / "program",
                         rename)
    status, _, err = run_command(prefix, str(tmp_path / "out.keras"),
                                 layer=2, verify=True,
                                 allow_unconverted=True)
    assert_refused(status, err, "reads the variable 'bidirectional_rnn/fw/"
                   "rnn_fw_2/gates/weights', which the checkpoint")
    assert not (tmp_path / "out.keras").exists()


class TestInitialStates:

  def test_learned_initial_states_are_weights_of_the_model(self, programs,
                                                           tmp_path):
    # tqtg's HAN: init_state_fw/bw tiled over the batch start each BiGRU.
    path = str(tmp_path / "words.keras")
    report = convert(programs["han"], path, scope="word-encoder",
                     drop_optimizer_state=True, target=mapping.KERAS)
    assert "with learned initial states" in report.summary
    assert "the program's own graph" in report.summary
    assert all(c.passed for c in report.checks), report.checks
    model = exporters.load_keras_file(path)
    reader = tf.train.load_checkpoint(programs["han"])
    wrapper = model.get_layer("bidirectional>learned_state")
    assert isinstance(wrapper, tf2.LearnedInitialState)
    states = {w.name: w for w in wrapper.state_weights}
    for direction in ("fw", "bw"):
      assert compare.bitwise_equal(
          states[f"word-encoder>init_state_{direction}"].numpy(),
          reader.get_tensor(f"word-encoder/init_state_{direction}"))
    # The program's own values, with its sequence lengths as a mask.
    values = golden("han")
    x = values["rnn.word_encoder.input"]
    lengths = values["rnn.word_encoder.sequence_length"]
    mask = np.arange(x.shape[1])[None, :] < lengths[:, None]
    got = np.asarray(model(x, mask=mask))
    check(got[..., :4], values["rnn.word_encoder.output_fw"])
    check(got[..., 4:], values["rnn.word_encoder.output_bw"])

  def test_learned_initial_states_go_back_under_their_names(self, programs,
                                                            tmp_path):
    path, back = str(tmp_path / "s.keras"), str(tmp_path / "back" / "m")
    convert(programs["han"], path, scope="sent-encoder",
            drop_optimizer_state=True)
    exporters.keras_file_to_tf1(path, back)
    written = dict(tf.train.list_variables(back))
    reader = tf.train.load_checkpoint(programs["han"])
    assert {"sent-encoder/init_state_fw", "sent-encoder/init_state_bw"} <= (
        set(written))
    for name in written:
      assert compare.bitwise_equal(
          tf.train.load_checkpoint(back).get_tensor(name),
          reader.get_tensor(name)), name

  def test_without_the_graph_learned_states_are_named_or_left_behind(
      self, programs, tmp_path):
    folder = tmp_path / "no_meta"
    folder.mkdir()
    for f in publish.checkpoint_files(programs["han"]):
      shutil.copy(f, folder)
    prefix = str(folder / "model.ckpt")
    report = convert(prefix, str(tmp_path / "zeros.keras"),
                     scope="word-encoder", drop_optimizer_state=True)
    assert "word-encoder/init_state_fw" in report.summary.split(
        "left behind")[1]
    states = ["word-encoder/init_state_fw", "word-encoder/init_state_bw"]
    path = str(tmp_path / "named.keras")
    report = convert(prefix, path, scope="word-encoder",
                     drop_optimizer_state=True, learned_initial_states=states)
    assert "with learned initial states" in report.summary
    values = golden("han")
    x = values["rnn.word_encoder.input"]
    lengths = values["rnn.word_encoder.sequence_length"]
    mask = np.arange(x.shape[1])[None, :] < lengths[:, None]
    model = exporters.load_keras_file(path)
    got = np.asarray(tf.function(model.__call__)(x, mask=mask))
    check(got[..., :4], values["rnn.word_encoder.output_fw"], bound=0.0)
    check(got[..., 4:], values["rnn.word_encoder.output_bw"], bound=0.0)

  def test_a_decoder_starts_from_the_encoders_state(self, programs,
                                                    tmp_path):
    # basic_rnn_seq2seq: rnn_decoder starts from the encoder's final state.
    path = str(tmp_path / "decoder.keras")
    report = convert(programs["seq2seq_signal"], path,
                     scope="Seq2seq/basic_rnn_seq2seq/rnn_decoder",
                     initial_state_inputs=True, drop_optimizer_state=True,
                     target=mapping.KERAS)
    assert "started from its inputs" in report.summary
    # rnn_decoder unrolls its cells: --verify feeds each step's input and
    # the initial states, and compares every step's output but the last.
    assert "the program's own graph" in report.summary
    assert "(every step's output but the last: 9 of 10 steps)" in (
        report.summary)
    assert all(c.passed for c in report.checks), report.checks
    model = exporters.load_keras_file(path)
    assert [t.name for t in model.inputs] == [
        "input", "initial_state_0", "initial_state_1"]
    values = golden("seq2seq_signal")
    got = model({"input": values["rnn.decoder.input"].transpose(1, 0, 2),
                 "initial_state_0": values["rnn.encoder.final_state_0"],
                 "initial_state_1": values["rnn.encoder.final_state_1"]})
    check(np.asarray(got).transpose(1, 0, 2), values["rnn.decoder.output"])

  def test_a_decoder_converted_to_start_from_zeros_fails_verification(
      self, programs, tmp_path):
    output = tmp_path / "decoder.keras"
    status, _, err = run_command(
        programs["seq2seq_signal"], str(output),
        scope="Seq2seq/basic_rnn_seq2seq/rnn_decoder", verify=True,
        allow_unconverted=True, drop_optimizer_state=True)
    assert_refused(status, err, "not from zeros as the converted model does")
    assert "--initial_state_inputs" in err
    assert not output.exists()

  def test_static_rnn_steps_are_checked_bitwise(self, programs, tmp_path):
    # basic_rnn_seq2seq's encoder: static_rnn over a MultiRNNCell.
    report = convert(programs["seq2seq_signal"],
                     str(tmp_path / "encoder.keras"),
                     scope="Seq2seq/basic_rnn_seq2seq/rnn",
                     drop_optimizer_state=True)
    assert "the program's own graph" in report.summary
    assert "9 of 10 steps" in report.summary
    assert [(c.bound, c.result.bitwise) for c in report.checks] == [
        (0.0, True)]

  def test_initial_state_inputs_refused_where_the_program_learned_them(
      self, programs, tmp_path):
    with pytest.raises(selection.SelectionError, match="starts from "
                       "\\['word-encoder/init_state_fw'"):
      convert(programs["han"], str(tmp_path / "m.keras"),
              scope="word-encoder", initial_state_inputs=True,
              drop_optimizer_state=True)


class TestWeightTied:
  """natureLanguageQing/alternating-reader-tf: one GRUCell passed as both
  directions of bidirectional_dynamic_rnn."""

  def test_converts_to_two_directions_holding_one_cell(self, programs,
                                                       tmp_path):
    path = str(tmp_path / "docs.keras")
    report = convert(programs["tied_bigru"], path,
                     scope="encode/docs/bidirectional_rnn",
                     target=mapping.KERAS)
    assert "weight-tied bidirectional GRUCell" in report.summary
    assert "the program's own graph" in report.summary
    assert all(c.passed for c in report.checks), report.checks
    model = exporters.load_keras_file(path)
    layer = model.get_layer("bidirectional")
    for a, b in zip(layer.forward_layer.weights,
                    layer.backward_layer.weights):
      assert compare.bitwise_equal(a.numpy(), b.numpy())
    values = golden("tied_bigru")
    x = values["rnn.docs_encoder.input"]
    lengths = values["rnn.docs_encoder.sequence_length"]
    mask = np.arange(x.shape[1])[None, :] < lengths[:, None]
    got = np.asarray(model(x, mask=mask))
    check(got[..., :4], values["rnn.docs_encoder.output_fw"])
    check(got[..., 4:], values["rnn.docs_encoder.output_bw"])

  def test_goes_back_as_the_one_cell_and_refuses_untied_values(
      self, programs, tmp_path):
    path = str(tmp_path / "q.keras")
    convert(programs["tied_bigru"], path,
            scope="encode/queries/bidirectional_rnn")
    back = str(tmp_path / "back" / "m")
    exporters.keras_file_to_tf1(path, back)
    names = [n for n, _ in tf.train.list_variables(back)]
    assert not any("/bw/" in n for n in names)
    assert "variables/global_step" in names   # the graph's step counter
    model = keras.saving.load_model(path)
    kernel = model.get_layer("bidirectional").backward_layer.cell.weights[0]
    kernel.assign(kernel.numpy() + 1.0)
    model.save(str(tmp_path / "untied.keras"))
    with pytest.raises(mapping.MappingError, match="no longer hold equal "
                       "values"):
      exporters.keras_file_to_tf1(str(tmp_path / "untied.keras"),
                                  str(tmp_path / "untied" / "m"))

  def test_without_the_meta_a_lone_forward_cell_is_not_guessed(
      self, programs, tmp_path):
    for f in publish.checkpoint_files(programs["tied_bigru"]):
      shutil.copy(f, tmp_path)
    found = tf1_checkpoint.inspect(str(tmp_path / "model.ckpt"))
    tied = [r for r in found.rnns if r.scope.startswith("encode/")]
    assert tied and all(r.description is None and "lacks the bw cell" in
                        " ".join(r.problems) for r in tied)


class TestCharRNN:
  """char-rnn's default configuration: a 2-layer BasicLSTMCell stack that
  `legacy_seq2seq.rnn_decoder` unrolls, its forget bias only in the
  graph."""

  @pytest.mark.parametrize("target", ["tf2", "keras"])
  def test_converts_with_its_forget_bias_read_from_the_graph(
      self, programs, tmp_path, target):
    report = convert(programs["char_rnn"], str(tmp_path / "lm.keras"),
                     target=target)
    assert report.published, report.summary
    assert ("TF1 2-layer MultiRNNCell BasicLSTMCell (forget bias 1.0, from "
            "the program's graph)") in report.summary
    assert "the program's own graph" in report.summary
    assert "7 of 8 steps" in report.summary
    bound = 0.0 if target == "tf2" else tolerances.TF1_LSTM_STOCK.float32
    assert [(c.bound, c.result.bitwise or target == "keras")
            for c in report.checks] == [(bound, True)]
    # The model reproduces the program's recorded top-layer outputs from
    # its recorded inputs (the embedded ids, one tensor per step).
    want = golden("char_rnn")
    model = exporters.load_keras_file(str(tmp_path / "lm.keras"))
    x = np.stack(list(want["rnn.rnnlm.input"]), axis=1)
    got = np.asarray(model.predict_on_batch(x))
    check(got, np.stack(list(want["rnn.rnnlm.output"]), axis=1),
          golden_files.bound(np.float32) if target == "tf2" else STOCK)

  def test_a_forget_bias_flag_contradicting_the_graph_is_refused(
      self, programs, tmp_path):
    output = tmp_path / "lm.keras"
    status, _, err = run_command(programs["char_rnn"], str(output),
                                 allow_unconverted=True, forget_bias=0.0)
    assert_refused(status, err, "--forget_bias=0.0: contradicts the "
                   "program's graph, whose BasicLSTMCells add 1.0")
    assert not output.exists()


def test_the_step_counter_is_what_the_optimizer_increments(programs):
  found = tf1_checkpoint.inspect(programs["tied_bigru"])
  assert found.global_step == "variables/global_step"


def test_graph_analysis_reads_no_op_and_runs_nothing(programs):
  graph = tf1_graph.read(programs["deep_speech2"] + ".meta")
  loops = graph.loops()
  assert len(loops) == 2 * DEEP_SPEECH_LAYERS
  assert sum(l.reversed for l in loops) == DEEP_SPEECH_LAYERS
  # Unknown op types are fine to read; only running checks them.
  assert "WriteFile" not in tf1_graph.PURE_OPS

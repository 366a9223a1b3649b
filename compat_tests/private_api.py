"""Every place where the project relies on a TensorFlow or Keras detail that
is not public API, or on a behaviour that has moved between releases, with
the canary test that fails, naming it, when a release moves it.

Plain data: the canaries (`test_private_api.py` and the tests named here)
and the version matrix (`version_matrix.py`, which runs every canary under
each TensorFlow release and writes BUILD.md's "Private API" table) read it.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Use:
  name: str        # short, as the canary's failure message names it
  detail: str      # the private module, attribute or behaviour
  used_in: str     # where the project relies on it
  why: str
  canary: str      # the canary's pytest node id, relative to the clone


_CANARIES = "compat_tests/test_private_api.py"

USES = (
    Use("keras float64 promotion table",
        "`keras.src.backend.common.dtypes.BIT64_TO_BIT32_DTYPE`",
        "`gru_common/keras_precision.py` (`enable_float64`); the float64 "
        "recipe in docs/serving.md and its test in "
        "`compat_tests/test_whole_programs.py`",
        "Keras maps float64 to float32 on JAX and PyTorch through this "
        "table; `enable_float64` edits it so float64 models stay float64",
        f"{_CANARIES}::test_keras_float64_promotion_table"),
    Use("keras functional graph walk",
        "`Functional._nodes_by_depth`, `Node.operation`, "
        "`Node.arguments.fill_in`, `Node.outputs`",
        "`migration/onnx_program.py` (`_emit_nodes`)",
        "ONNX export walks a functional model's nodes in order and "
        "substitutes each node's inputs; Keras has no public walk",
        f"{_CANARIES}::test_keras_functional_graph_walk"),
    Use("keras Adam slots",
        "`Adam._momentums`, `Adam._velocities`, "
        "`Optimizer._get_variable_index`",
        "`migration/optimizer_state.py` (`_slot_lookup`); "
        "`compat_tests/test_migration.py`",
        "TF1 Adam state is carried into the Keras optimizer slot by slot; "
        "Keras has no public accessor for a variable's slots",
        f"{_CANARIES}::test_keras_adam_slots"),
    Use("keras predict casts float64",
        "`predict`/`fit` cast float arrays to `keras.config.floatx()` "
        "(keras/src/trainers/data_adapters/array_slicing.py)",
        "`tf2/exact_model.py` (`ExactModel`), "
        "`gru_common/keras_precision.py` (`floatx`)",
        "the reason `ExactModel` and `floatx()` exist: without them a "
        "float64 model's inputs lose their low bits",
        f"{_CANARIES}::test_keras_predict_casts_float64_to_floatx"),
    Use("tf_keras TF1 cells",
        "`tf.compat.v1.nn.rnn_cell.*` only with `tf_keras` and "
        "`TF_USE_LEGACY_KERAS=1`",
        "`compat_tests/tf1_cell_oracle.py`, `compat_tests/real_programs/` "
        "(the TF1-cell oracle and the reproduced public programs)",
        "TensorFlow's own TF1 GRU and LSTM cells are the oracle of the "
        "TF1-cell conversions",
        f"{_CANARIES}::test_tf_keras_provides_the_tf1_cells"),
    Use("TensorFlow protobuf modules",
        "`tensorflow.core.protobuf.meta_graph_pb2.MetaGraphDef`, "
        "`tensorflow.core.protobuf.control_flow_pb2.WhileContextDef` and "
        "`CondContextDef`",
        "`compat_tests/real_programs/regenerate.py` (the real programs' "
        "`.meta` files, rewritten with map fields in key order)",
        "the TF1 control-flow contexts in a `.meta` file are serialized "
        "protos of these types; TensorFlow has no public alias for the "
        "control-flow ones",
        f"{_CANARIES}::test_tensorflow_protobuf_modules"),
    Use("tensorflow tape stop",
        "`tensorflow.python.eager.record.stop_recording`",
        "`tf2/fast_gru.py` (`_undifferentiated`)",
        "the fast mode's XLA-compiled loops run unseen by gradient tapes; "
        "a persistent or nested tape would otherwise ask for variants of "
        "them that return TensorLists, which XLA cannot hand back",
        f"{_CANARIES}::test_tensorflow_tape_stop"),
    Use("fit under MultiWorkerMirroredStrategy",
        "Keras 3 `fit` refuses `MultiWorkerMirroredStrategy` (keras#20585)",
        "`tf2/distribute.py`, `gru_common/cluster.py` (the multi-worker "
        "job runs its own loop)",
        "if `fit` starts working there, the job could use it",
        "compat_tests/test_scale_out.py::"
        "test_keras_fit_does_not_run_under_multi_worker_strategy"),
    Use("TensorFlow start-up log lines",
        "lines logged through abseil before `TF_CPP_MIN_LOG_LEVEL` applies",
        "`gru_common/tensorflow_startup.py`",
        "the commands filter those lines themselves; if a release stops "
        "logging them the filter can go",
        "compat_tests/test_repository.py::"
        "test_tensorflow_start_up_lines_need_the_filter"),
)

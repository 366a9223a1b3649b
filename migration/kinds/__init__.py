"""Component kinds: one plug-in module per family of layers, registered here.

    base            the interface (`Kind`) and the registry
    seeds           the Data Blogger and tutorial GRUs, and their jobs' heads
    tf1_gru_cells   TensorFlow's TF1 GRU cells (GRUCell, GRUBlockCell,
                    CudnnCompatibleGRUCell, CudnnGRU), in every wiring
    tf1_lstm_cells  TensorFlow's TF1 LSTM cells (BasicLSTMCell, LSTMCell,
                    LSTMBlockCell, CudnnCompatibleLSTMCell), wired alike
    dense           a dense layer
    embedding       an embedding

Importing this package registers them all. No module imports TensorFlow at
import time.
"""

from migration.kinds import base
from migration.kinds import dense
from migration.kinds import embedding
from migration.kinds import seeds
from migration.kinds import tf1_gru_cells
from migration.kinds import tf1_lstm_cells

get = base.get
registered = base.registered
Kind = base.Kind

__all__ = ["Kind", "base", "dense", "embedding", "get", "registered",
           "seeds", "tf1_gru_cells", "tf1_lstm_cells"]

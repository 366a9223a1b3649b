"""What the legacy ports, the TF2 side, the converter and the proof share:
names (`names`, `tf1_gru_cells`), the seed jobs' data recipes, configs and
results, plots, whole-file writes, argument checks, tables, comparisons and
the tolerance policy (`compare`, `tolerances`). Only `sequence_lengths`
(one check both the ports and the layers run) and `tensorflow_startup`
import TensorFlow; nothing here imports Keras."""

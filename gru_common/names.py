"""Names the legacy graphs, the TF2 layers, the jobs and the converter share.

One definition each: the legacy ports create their variables under these
names (so they are the TF1 checkpoints' keys), the TF2 cells name their
weights after them, the jobs name their Keras layers with them, and the
converter's detection and mapping tables are written in them.
"""

# The Data Blogger GRU (legacy/scan_gru.py; tf2.ScanGRUCell's weights too),
# in the source's order of creation.
WR, WZ, WH = "Wr", "Wz", "Wh"          # [input, units]
UR, UZ, UH = "Ur", "Uz", "Uh"          # [units, units]
BR, BZ, BH = "br", "bz", "bh"          # [units]
SCAN_GRU = (WR, WZ, WH, UR, UZ, UH, BR, BZ, BH)

# The tutorial GRU (legacy/loop_gru.py), inside its variable scope. The
# source creates Uf under the name of Wf, and TensorFlow stores the second
# as FORGET_GATE_U; tf2.LoopGRUCell names that weight FORGET_GATE_U_TF2.
LOOP_SCOPE = "gru_init"
LOOP_BACKWARD_SCOPE = "gru_init_1"     # a BiGRU's second GRU
INPUT_GATE_W = "input_gate_wi"         # the reset gate: Wi, Ui, bi
INPUT_GATE_U = "input_gate_ui"
INPUT_GATE_B = "input_gate_bias"
FORGET_GATE_W = "forget_gate_wf"       # the update gate: Wf, Uf, bf
FORGET_GATE_U = "forget_gate_wf_1"
FORGET_GATE_U_TF2 = "forget_gate_uf"
FORGET_GATE_B = "forget_gate_bias"
CONTROL_GATE_W = "control_gate_wc"     # the candidate: Wc, Uc, bc
CONTROL_GATE_U = "control_gate_uc"
CONTROL_GATE_B = "control_gate_bias"
LOOP_RESET_GATE = (INPUT_GATE_W, INPUT_GATE_U, INPUT_GATE_B)
LOOP_GRU = LOOP_RESET_GATE + (FORGET_GATE_W, FORGET_GATE_U, FORGET_GATE_B,
                              CONTROL_GATE_W, CONTROL_GATE_U, CONTROL_GATE_B)

# The heads: the addition job's unnamed output layer (TensorFlow's default
# variable names) and the classifier's softmax layer in its scope.
ADDITION_OUTPUT = ("Variable", "Variable_1")           # W [units, 1], b [1]
CLASSIFIER_SCOPE = "classifier"
CLASSIFIER_HEAD = ("softmax_w", "softmax_b")           # W [units, c], b [c]

# Layer names of the TF2 job models and the converted models.
GRU_LAYER = "gru"
BIGRU_LAYER = "bigru"
ADDITION_OUTPUT_LAYER = "output"
CLASSIFIER_LAYER = "classifier"
POOLING_LAYER = "mean_over_time"
INPUT_LAYER = "input"

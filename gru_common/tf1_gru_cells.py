"""TensorFlow's own TF1 GRU cells: their variables, as TF 1.15 names and
shapes them inside a cell's scope. One definition, for `tf2.TF1GRUCell`
(which holds these variables whole) and the converter's kind
(`migration/kinds/tf1_gru_cells.py`).

    GRUCell, GRUBlockCellV2   gates/kernel [in+u, 2u]  (columns: r, then u)
                              gates/bias [2u], candidate/kernel [in+u, u],
                              candidate/bias [u]
    GRUBlockCell              w_ru, b_ru, w_c, b_c (the same shapes)
    CudnnCompatibleGRUCell    gates/kernel, gates/bias,
                              candidate/input_projection/{kernel [in, u],
                              bias [u]}, candidate/hidden_projection/{kernel
                              [u, u], bias [u]}

Each cell's first variable multiplies [input; state] at every step.
"""

GRU_CELL = "GRUCell"
GRU_BLOCK_CELL = "GRUBlockCell"
CUDNN_COMPATIBLE = "CudnnCompatibleGRUCell"
CELLS = (GRU_CELL, GRU_BLOCK_CELL, CUDNN_COMPATIBLE)

VARIABLES = {
    GRU_CELL: ("gates/kernel", "gates/bias", "candidate/kernel",
               "candidate/bias"),
    GRU_BLOCK_CELL: ("w_ru", "b_ru", "w_c", "b_c"),
    CUDNN_COMPATIBLE: (
        "gates/kernel", "gates/bias", "candidate/input_projection/kernel",
        "candidate/input_projection/bias",
        "candidate/hidden_projection/kernel",
        "candidate/hidden_projection/bias"),
}


def shapes(cell, input_dim, units):
  """{variable name in the cell's scope: shape}, in the cell's order."""
  d, u = input_dim, units
  by_name = {"gates/kernel": (d + u, 2 * u), "gates/bias": (2 * u,),
             "candidate/kernel": (d + u, u), "candidate/bias": (u,),
             "w_ru": (d + u, 2 * u), "b_ru": (2 * u,),
             "w_c": (d + u, u), "b_c": (u,),
             "candidate/input_projection/kernel": (d, u),
             "candidate/input_projection/bias": (u,),
             "candidate/hidden_projection/kernel": (u, u),
             "candidate/hidden_projection/bias": (u,)}
  return {n: by_name[n] for n in VARIABLES[cell]}


def weight_name(tf1_name):
  """The Keras weight's name for a TF1 variable name (no '/' in Keras)."""
  return tf1_name.replace("/", "_")

"""Faithful TF1-style ports of the two source GRUs, for TensorFlow 2.21.

`scan_gru`: the Data Blogger GRU (seed 000), built on `tf.scan`.
`loop_gru`: the tutorial GRU (seed 001), built on `tf.while_loop`.

Everything is built with `tf.compat.v1` inside a caller's
`with tf.Graph().as_default():`; importing never disables eager execution.
"""

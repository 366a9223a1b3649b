"""Small NumPy references of the two source GRUs, one equation per line.

Written from the sources' equations, independently of the TF code, so that
the tests compare two implementations rather than one with itself.
"""

import numpy as np


def sigmoid(a):
  return 1.0 / (1.0 + np.exp(-a))


def scan_gru(x, w):
  """The Data Blogger GRU. x [batch, time, in]; w: dict of its 9 weights."""
  h = np.zeros((x.shape[0], w["Uz"].shape[0]), x.dtype)
  outputs = []
  for t in range(x.shape[1]):
    x_t = x[:, t]
    z = sigmoid(x_t @ w["Wz"] + h @ w["Uz"] + w["bz"])
    r = sigmoid(x_t @ w["Wr"] + h @ w["Ur"] + w["br"])
    h_proposal = np.tanh(x_t @ w["Wh"] + (r * h) @ w["Uh"] + w["bh"])
    h = (1 - z) * h + z * h_proposal
    outputs.append(h)
  return np.stack(outputs, axis=1)


def loop_gru(x, w, reset_gate=True):
  """The tutorial GRU. w: Wi Ui bi (if reset_gate) Wf Uf bf Wc Uc bc."""
  h = np.zeros((x.shape[0], w["Uf"].shape[0]), x.dtype)
  outputs = []
  for t in range(x.shape[1]):
    x_t = x[:, t]
    r = (sigmoid(x_t @ w["Wi"] + h @ w["Ui"] + w["bi"]) if reset_gate
         else np.ones_like(h))
    z = sigmoid(x_t @ w["Wf"] + h @ w["Uf"] + w["bf"])
    n = np.tanh(x_t @ w["Wc"] + (r * h) @ w["Uc"] + w["bc"])
    h = (1 - z) * n + z * h
    outputs.append(h)
  return np.stack(outputs, axis=1)


def reverse_sequence(x, lengths=None):
  """Reverses each row's first `lengths[i]` steps (all steps if None)."""
  if lengths is None:
    return x[:, ::-1].copy()
  out = x.copy()
  for i, n in enumerate(lengths):
    out[i, :n] = x[i, :n][::-1]
  return out


def loop_bigru(x, w_forward, w_backward, lengths=None, reset_gate=True):
  """The tutorial's BiGRU: [forward | backward reversed back] on features."""
  forward = loop_gru(x, w_forward, reset_gate)
  backward = loop_gru(reverse_sequence(x, lengths), w_backward, reset_gate)
  return np.concatenate([forward, reverse_sequence(backward, lengths)],
                        axis=2)

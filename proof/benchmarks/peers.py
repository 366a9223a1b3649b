"""Peers of the scale workloads, timed in processes of their own.

    keras_jax     the converted stock-Keras model under Keras's JAX backend
    keras_torch   the same under Keras's PyTorch backend
    torch_gru     PyTorch's own torch.nn.GRU (reset-after, so a different
                  GRU: a speed yardstick only)
    gemm_limit    the workload's matmul FLOPs divided by the FLOP rate of
                  one large float32 matmul measured in the same run: no GRU
                  implementation can take less time on this machine

A Keras backend is chosen per process, so each backend's rows come from a
child process (`python -m proof.benchmarks.peers REQUEST.json`) that loads
the `.keras` file the parent wrote and times `train_on_batch` (Adam, mean
squared output, as the TF rows) or `predict_on_batch`, after warm-up, as
medians of the workload's repeats. A peer whose package is not installed is
left out, with the reason in `benchmark.json`.
"""

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from proof.benchmarks import measure

KERAS_BACKENDS = {"keras_jax": "jax", "keras_torch": "torch"}
TORCH_GRU = "torch_gru"
GEMM_LIMIT = "gemm_limit"
PEERS = (*KERAS_BACKENDS, TORCH_GRU, GEMM_LIMIT)
WORKLOADS = ("scale_train", "scale_infer")
GEMM_SIZE = 2048


def matmul_flops(workload):
  """Multiply-add FLOPs of one step's GRU matmuls: per time step the input
  and recurrent projections of three gates (2 * batch * (in + u) * 3u); a
  training step adds the backward pass's two matmuls per forward one."""
  forward = (2 * workload.batch * (workload.input_dim + workload.units) *
             3 * workload.units * workload.time)
  return forward * (3 if workload.train else 1)


def gemm_step(size=GEMM_SIZE):
  """A zero-argument callable: one size x size x size float32 matmul
  (TensorFlow, eager), warmed up; it runs 2 * size**3 FLOPs."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(0)
  a, b = (tf.constant(rng.uniform(-1, 1, (size, size)).astype(np.float32))
          for _ in range(2))
  step = lambda: np.asarray(tf.matmul(a, b))
  step()
  return step


def gemm_flops_per_second(size=GEMM_SIZE, repeats=5):
  """FLOP/s of `gemm_step`, the median of `repeats`."""
  seconds = measure.interleaved_medians({"gemm": gemm_step(size)},
                                        repeats)["gemm"]
  return 2 * size ** 3 / seconds


def limit_rounds(times, workload, tf2_name, size=GEMM_SIZE):
  """Per interleaved round, the ratio of `tf2_name`'s step to the GEMM
  limit measured in the same round (`times["gemm"]`: one `gemm_step`):
  {"implementation", "ratios", "median", "min", "max", "spread" (max - min
  over the median), "below_1"}. A ratio below 1 cannot be (the step's
  matmuls alone take the limit): it flags a measurement error."""
  rates = [2 * size ** 3 / t for t in times["gemm"]]
  ratios = [t / (matmul_flops(workload) / rate)
            for t, rate in zip(times[tf2_name], rates)]
  median = float(np.median(ratios))
  return {"implementation": tf2_name, "ratios": ratios, "median": median,
          "min": min(ratios), "max": max(ratios),
          "spread": (max(ratios) - min(ratios)) / median,
          "below_1": min(ratios) < 1.0}


def missing(peer):
  """Why `peer` cannot run here, or None."""
  needs = {"keras_jax": "jax", "keras_torch": "torch", TORCH_GRU: "torch"}
  module = needs.get(peer)
  if module and importlib.util.find_spec(module) is None:
    return f"{module} is not installed"
  return None


def run_peers(workloads, keras_path_of, log=print):
  """{(workload key, peer): median seconds} for the Keras-backend and
  torch.nn.GRU peers on `workloads` (`implementations.Workload`s), and
  {peer: reason} for those left out. `keras_path_of(workload)` writes the
  converted stock-Keras model of a workload and returns its path."""
  seconds, skipped = {}, {}
  jobs = {"jax": ["keras_jax"], "torch": ["keras_torch", TORCH_GRU]}
  with tempfile.TemporaryDirectory() as folder:
    models = {w.key: keras_path_of(w, folder) for w in workloads}
    for backend, peers in jobs.items():
      runnable = []
      for peer in peers:
        reason = missing(peer)
        if reason:
          skipped[peer] = reason
          log(f"  {peer}: skipped ({reason})")
        else:
          runnable.append(peer)
      if not runnable:
        continue
      request = {"peers": runnable, "models": models,
                 "workloads": [dataclasses.asdict(w) for w in workloads]}
      path = os.path.join(folder, f"{backend}.json")
      with open(path, "w", encoding="utf-8") as f:
        json.dump(request, f)
      env = dict(os.environ, KERAS_BACKEND=backend)
      result = subprocess.run([sys.executable, "-m", __name__, path],
                              env=env, capture_output=True, text=True,
                              check=False, timeout=1800)
      if result.returncode:
        raise RuntimeError(f"the {backend} peers failed:\n"
                           f"{result.stderr[-3000:]}")
      for row in json.loads(result.stdout.strip().splitlines()[-1]):
        seconds[(row["workload"], row["peer"])] = row["seconds"]
        log(f"  {row['workload']:12} {row['peer']:16} "
            f"{row['seconds'] * 1e3:10.3f} ms/step")
  return seconds, skipped


def _keras_step(path, workload):
  import keras  # pylint: disable=g-import-not-at-top
  model = keras.saving.load_model(path, compile=False)
  x = _inputs(workload)
  if not workload["train"]:
    return lambda: np.asarray(keras.ops.convert_to_numpy(
        model.predict_on_batch(x)))
  model.compile(optimizer=keras.optimizers.Adam(epsilon=1e-8), loss="mse")
  y = np.zeros((workload["batch"], workload["time"], workload["units"]),
               workload["dtype"])
  return lambda: float(model.train_on_batch(x, y))


def _torch_step(workload):
  import torch  # pylint: disable=g-import-not-at-top
  torch.manual_seed(0)
  gru = torch.nn.GRU(workload["input_dim"], workload["units"],
                     batch_first=True)
  x = torch.from_numpy(_inputs(workload))
  if not workload["train"]:
    def infer():
      with torch.no_grad():
        return gru(x)[0].numpy()
    return infer
  optimizer = torch.optim.Adam(gru.parameters(), eps=1e-8)

  def train():
    optimizer.zero_grad()
    loss = gru(x)[0].pow(2).mean()
    loss.backward()
    optimizer.step()
    return float(loss)
  return train


def _inputs(workload):
  rng = np.random.RandomState(0)
  return rng.uniform(-1, 1, (workload["batch"], workload["time"],
                             workload["input_dim"])).astype(workload["dtype"])


def main(request_path, warmup=3):
  with open(request_path, encoding="utf-8") as f:
    request = json.load(f)
  rows = []
  for workload in request["workloads"]:
    steps = {}
    for peer in request["peers"]:
      steps[peer] = (_torch_step(workload) if peer == TORCH_GRU else
                     _keras_step(request["models"][workload["key"]],
                                 workload))
      for _ in range(warmup):
        steps[peer]()
    medians = measure.interleaved_medians(steps, workload["repeats"])
    rows += [{"workload": workload["key"], "peer": p, "seconds": s}
             for p, s in medians.items()]
  print(json.dumps(rows))


if __name__ == "__main__":
  main(sys.argv[1])

"""The benchmark harness: legacy vs TF2 vs stock Keras vs the floor."""

# The workloads (`implementations.WORKLOADS`), named without importing
# TensorFlow, so the command's flags can offer them.
WORKLOAD_NAMES = ("seed_train", "scale_train", "small_train", "scale_infer",
                  "long_infer")

"""Installs the legacy (TF1-style) and TF2 GRUs, the migration layer and the
command-line tools.

  pip install .              # the library and the gru-* commands
  pip install '.[onnx]'      # plus ONNX export (--output=FILE.onnx)
  pip install '.[backends]'  # plus PyTorch (CPU), for the Keras-backend tests
  pip install '.[test]'      # plus what the test suite needs

Each requirement is a range: from the lowest version the version matrix
(compat_tests/version_matrix.py, BUILD.md "Supported versions") proved,
or CI installs, up to the next minor release not tested; a test keeps the
lower bounds equal to those. constraints.txt pins the exact versions CI
and README.md's commands install.
"""

# onnx 1.19 and later need ml_dtypes >= 0.5 without saying so; with
# TensorFlow 2.16 or 2.17 (older ml_dtypes) install 'onnx<1.19' beside them.
ONNX = ["onnx>=1.18.0,<1.24", "onnxruntime>=1.32.0,<1.33"]

import setuptools

setuptools.setup(
    name="tf1-gru-migration",
    version="0.1.0",
    description=("Faithful TF1 ports, exact TF2/Keras 3 rewrites and exact "
                 "checkpoint conversion for two hand-written TensorFlow 1 "
                 "GRUs."),
    python_requires=">=3.11",
    # The commands install as `gru_commands`; scripts/ (launchers for a
    # clone) and compat_tests/ are not installed.
    packages=["legacy", "tf2", "gru_common", "migration", "migration.kinds",
              "proof", "proof.benchmarks", "gru_commands"],
    install_requires=[
        "tensorflow>=2.16.2,<2.22",
        "keras>=3.15.1,<3.16",
        "numpy>=1.26.4,<2.5",
        "absl-py>=2.5.1,<2.6",
        "matplotlib>=3.11.2,<3.12",
        "scikit-learn>=1.9.1,<1.10",
        "tensorboard>=2.16.2,<2.22",
    ],
    extras_require={
        "onnx": ONNX,
        # PyPI's torch 2.13.0 wheel for Linux pulls CUDA packages; its CPU
        # build comes from PyTorch's own index (README, "Serve the migrated
        # model without TensorFlow").
        "backends": ["torch>=2.13.0,<2.14"],
        "test": ONNX + [
            "pytest>=9.2.0,<9.3",
            "pytest-xdist>=3.8.0,<3.9",
            "hypothesis>=6.170.15,<6.171",
            # TensorFlow's own TF1 cells, the oracle of the TF1-cell tests
            # (run in a subprocess with TF_USE_LEGACY_KERAS=1).
            "tf_keras>=2.16.0,<2.22",
            # Converted stock-Keras models under Keras's JAX backend.
            "jax[cpu]>=0.4.34,<0.11",
        ],
    },
    entry_points={
        "console_scripts": [
            "gru-legacy-addition=gru_commands.legacy_addition:run",
            "gru-legacy-classifier=gru_commands.legacy_classifier:run",
            "gru-tf2-addition=gru_commands.tf2_addition:run",
            "gru-tf2-classifier=gru_commands.tf2_classifier:run",
            "tf1-convert-checkpoint=gru_commands.convert_checkpoint:run",
            "tf1-inspect-checkpoint=gru_commands.inspect_checkpoint:run",
            "gru-demo=gru_commands.demo:run",
            "gru-verify-equivalence=gru_commands.verify_equivalence:run",
            "gru-benchmark=gru_commands.benchmark:run",
            "gru-scale-out-benchmark=gru_commands.benchmark_scale_out:run",
        ],
    },
)

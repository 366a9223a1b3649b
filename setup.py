"""Installs the legacy (TF1-style) and TF2 GRUs, the migration layer and the
command-line tools.

  pip install .          # the library and the gru-* commands
  pip install '.[test]'  # plus what the test suite needs
"""

import setuptools

setuptools.setup(
    name="tf1-gru-migration",
    version="0.1.0",
    description=("Faithful TF1 ports, exact TF2/Keras 3 rewrites and exact "
                 "checkpoint conversion for two hand-written TensorFlow 1 "
                 "GRUs."),
    python_requires=">=3.11",
    packages=["legacy", "tf2", "migration", "benchmarks", "scripts"],
    install_requires=[
        "tensorflow==2.21.0",
        "keras==3.15.1",
        "numpy==2.4.6",
        "absl-py==2.5.1",
        "matplotlib==3.11.2",
        "scikit-learn==1.9.1",
        "tensorboard==2.21.0",
    ],
    extras_require={
        "test": [
            "pytest==9.2.0",
            "pytest-xdist==3.8.0",
            "hypothesis==6.170.15",
        ],
    },
    entry_points={
        "console_scripts": [
            "gru-legacy-addition=scripts.legacy_addition:run",
            "gru-legacy-classifier=scripts.legacy_classifier:run",
            "gru-tf2-addition=scripts.tf2_addition:run",
            "gru-tf2-classifier=scripts.tf2_classifier:run",
            "gru-convert-checkpoint=scripts.convert_checkpoint:run",
            "gru-demo=scripts.demo:run",
            "gru-verify-equivalence=scripts.verify_equivalence:run",
            "gru-regenerate-goldens=scripts.regenerate_goldens:run",
            "gru-benchmark=scripts.benchmark:run",
        ],
    },
)

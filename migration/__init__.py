"""Conversion between the legacy (TF1) models and Keras: what a checkpoint
holds (`inventory`), the seed models' variables (`spec`), the mapping tables
(`mapping`), the Keras models (`models`), optimizer state, TF1 checkpoints,
conversions with `--verify` (`convert`) and live Session transfer (`live`)."""

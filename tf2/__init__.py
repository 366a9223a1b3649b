"""Idiomatic TF2 (Keras 3) rewrites of the two source GRUs."""

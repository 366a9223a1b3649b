"""The proof that the TF2 side computes what the legacy graphs compute, and
how fast: the equivalence runs (`equivalence`), their report (`report`), the
demo job (`demo`) and the benchmark harness (`benchmarks`). Comparisons and
the tolerance policy are `gru_common.compare` and `gru_common.tolerances`,
which the converter's `--verify` uses too."""

"""The proof that the TF2 side computes what the legacy graphs compute, and
how fast: comparisons (`compare`), the tolerance policy (`tolerances`), the
equivalence runs (`equivalence`), their report (`report`) and the benchmark
harness (`benchmarks`)."""

"""The benchmark harness: legacy vs TF2 vs stock Keras vs the floor."""

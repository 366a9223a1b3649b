"""`gru-benchmark` from a clone:

  python scripts/benchmark.py --help
"""

from gru_commands import benchmark

if __name__ == "__main__":
  benchmark.run()

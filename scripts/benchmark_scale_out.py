"""`gru-scale-out-benchmark` from a clone:

  python scripts/benchmark_scale_out.py --help
"""

from gru_commands import benchmark_scale_out

if __name__ == "__main__":
  benchmark_scale_out.run()

"""`gru-tf2-addition` from a clone:

  python scripts/tf2_addition.py --help
"""

from gru_commands import tf2_addition

if __name__ == "__main__":
  tf2_addition.run()

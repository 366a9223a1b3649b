"""`gru-legacy-addition` from a clone:

  python scripts/legacy_addition.py --help
"""

from gru_commands import legacy_addition

if __name__ == "__main__":
  legacy_addition.run()

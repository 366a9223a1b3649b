"""`gru-verify-equivalence` from a clone:

  python scripts/verify_equivalence.py --help
"""

from gru_commands import verify_equivalence

if __name__ == "__main__":
  verify_equivalence.run()

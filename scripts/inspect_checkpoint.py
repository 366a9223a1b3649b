"""`tf1-inspect-checkpoint` from a clone:

  python scripts/inspect_checkpoint.py --help
"""

from gru_commands import inspect_checkpoint

if __name__ == "__main__":
  inspect_checkpoint.run()

"""`tf1-convert-checkpoint` from a clone:

  python scripts/convert_checkpoint.py --help
"""

from gru_commands import convert_checkpoint

if __name__ == "__main__":
  convert_checkpoint.run()

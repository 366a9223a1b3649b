"""`gru-tf2-classifier` from a clone:

  python scripts/tf2_classifier.py --help
"""

from gru_commands import tf2_classifier

if __name__ == "__main__":
  tf2_classifier.run()

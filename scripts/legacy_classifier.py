"""`gru-legacy-classifier` from a clone:

  python scripts/legacy_classifier.py --help
"""

from gru_commands import legacy_classifier

if __name__ == "__main__":
  legacy_classifier.run()

"""`gru-demo` from a clone:

  python scripts/demo.py --help
"""

from gru_commands import demo

if __name__ == "__main__":
  demo.run()

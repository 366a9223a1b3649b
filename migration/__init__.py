"""The migration layer: exact weight and checkpoint conversion, and the
tools that prove two models compute the same thing."""

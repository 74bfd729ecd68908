"""The version of nnkit, which model files record."""

__version__ = "0.2.0"

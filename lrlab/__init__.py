"""lrlab: a desktop learning-rate lab."""

__version__ = "0.1.0"

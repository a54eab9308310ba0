"""The desktop app: a thin Qt client of :mod:`lrlab.core`."""

"""The version of lrlab, in a module of its own: the core records it in every session, and
importing it from here (not from ``lrlab``) keeps the core out of ``lrlab/__init__``'s lazy
public API, so no lrlab module imports another in a circle."""

__version__ = "0.1.0"

"""Palaver: a self-hostable communication platform."""

__version__ = "0.1.0"

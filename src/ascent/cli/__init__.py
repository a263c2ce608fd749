"""The ``ascent`` command line: run, chat, demo, graph, traces, and serve agents.

Only this package imports typer and rich, so ``import ascent`` loads neither.
"""

from .app import app, main
from .loading import load_agent, load_object

__all__ = ["app", "load_agent", "load_object", "main"]

"""``python -m ascent.cli``: the ``ascent`` command."""

from .app import main

main()

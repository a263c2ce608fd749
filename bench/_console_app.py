"""The app ``bench/console.py`` serves: the demo team on the offline model, console at ``/ui``.

``ascent serve bench/_console_app.py:create_app`` loads it. No run is started by
the benchmark: its runs and its trace are written straight into the database.
"""

from __future__ import annotations

from typing import Any


def create_app() -> Any:
    from ascent.demo import create_team
    from ascent.models.offline import OfflineModel
    from ascent.server import create_app as make

    return make(create_team(model=OfflineModel()), console=True)

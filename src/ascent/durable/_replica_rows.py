"""The replicas' heartbeat rows in the project database (``ascent_replicas``), the
:class:`~ascent.durable._store.RunStore`'s ``replicas``: what :mod:`._replicas` reads and writes to
beat a replica's heart and claim a dead one's runs."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..storage import write_transaction

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from ._schema import Tables

__all__ = ["ReplicaRows"]


class ReplicaRows:
    """Reads and writes of ``ascent_replicas`` (the run store's ``replicas``)."""

    def __init__(self, engine: Engine, tables: Tables) -> None:
        self.engine = engine
        self.tables = tables

    def heartbeat(self, executor_id: str, app_version: str, *, starting: bool = False) -> bool:
        """Record that ``executor_id`` is alive. False if another replica took it over
        since its last heartbeat (its runs now belong to that replica): its row is
        claimed, or gone (a finished takeover removes it)."""
        from sqlalchemy import select

        table = self.tables.replicas
        now = time.time()
        with write_transaction(self.engine) as conn:
            row = conn.execute(
                select(table.c.taken_over_by).where(table.c.executor_id == executor_id)
            ).first()
            if row is None:
                conn.execute(
                    table.insert().values(
                        executor_id=executor_id,
                        app_version=app_version,
                        started_at=now,
                        heartbeat_at=now,
                    )
                )
                return starting
            taken = row[0] is not None
            values: dict[str, Any] = {"heartbeat_at": now, "app_version": app_version}
            if starting or taken:
                values.update(started_at=now, taken_over_by=None, taken_over_at=None)
            conn.execute(table.update().where(table.c.executor_id == executor_id).values(**values))
            return starting or not taken

    def stale_replicas(
        self, executor_id: str, cutoff: float, *, abandoned: float | None = None
    ) -> list[str]:
        """Replicas silent since ``cutoff`` whose runs nobody has taken over (or, with
        ``abandoned``, whose takeover was claimed before that time and never finished:
        its claimant died)."""
        from sqlalchemy import select

        table = self.tables.replicas
        query = select(table.c.executor_id).where(
            table.c.heartbeat_at < cutoff,
            self._unclaimed(abandoned),
            table.c.executor_id != executor_id,
        )
        with self.engine.connect() as conn:
            return [row[0] for row in conn.execute(query)]

    def claim_replica(
        self, dead: str, by: str, cutoff: float, *, abandoned: float | None = None
    ) -> bool:
        """Mark ``dead`` as taken over by ``by``; True for exactly one claimant (a
        claim made before ``abandoned``, if given, counts as none)."""
        table = self.tables.replicas
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                table.update()
                .where(
                    table.c.executor_id == dead,
                    self._unclaimed(abandoned),
                    table.c.heartbeat_at < cutoff,
                )
                .values(taken_over_by=by, taken_over_at=time.time())
            )
            return result.rowcount == 1

    def _unclaimed(self, abandoned: float | None) -> Any:
        """Not taken over, or claimed before ``abandoned`` by a replica that never
        finished (a finished takeover removes the dead replica's row)."""
        from sqlalchemy import or_

        table = self.tables.replicas
        if abandoned is None:
            return table.c.taken_over_by.is_(None)
        return or_(table.c.taken_over_by.is_(None), table.c.taken_over_at < abandoned)

    def release_replica(self, dead: str) -> None:
        """Undo a claim whose recovery failed, so the takeover is tried again."""
        table = self.tables.replicas
        with write_transaction(self.engine) as conn:
            conn.execute(
                table.update()
                .where(table.c.executor_id == dead)
                .values(taken_over_by=None, taken_over_at=None)
            )

    def remove_replica(self, executor_id: str) -> None:
        table = self.tables.replicas
        with write_transaction(self.engine) as conn:
            conn.execute(table.delete().where(table.c.executor_id == executor_id))

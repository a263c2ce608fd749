"""A throwaway PostgreSQL server on loopback, for tests that need the real thing.

It runs the platform's own binaries (``initdb``, ``pg_ctl``) in a temporary
folder, on a free port, with durability switched off for speed, and removes
everything when stopped. ``initdb`` refuses to run as root, so under root the
server runs as the ``postgres`` system user (via ``runuser``, else ``su``).

::

    with PostgresServer() as server:
        engine = create_engine(server.url)  # postgresql://postgres@127.0.0.1:PORT/postgres

No Python driver is needed to start it; connecting needs psycopg (the
``postgres`` extra).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from ascent.testing._servers import free_port, log_tail, retry_start

__all__ = ["PostgresServer", "find_postgres_bin"]

_SUPERUSER = "postgres"
_SYSTEM_USER = "postgres"
_START_TIMEOUT = 60
_START_ATTEMPTS = 3
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# Safe only for a server whose data is thrown away: no fsync, no WAL to speak of.
_FAST_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_connections": "100",
    "shared_buffers": "32MB",
    "logging_collector": "off",
    "log_min_messages": "warning",
}


def find_postgres_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or ``None`` when PostgreSQL is absent.

    ``ASCENT_POSTGRES_BIN`` wins; then the newest ``/usr/lib/postgresql/<version>/bin``
    (Debian and Ubuntu keep them there, off the ``PATH``); then the ``PATH``.
    """
    configured = os.environ.get("ASCENT_POSTGRES_BIN")
    candidates: list[Path] = [Path(configured)] if configured else []
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(versions, key=_version_key, reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _version_key(folder: Path) -> tuple[int, ...]:
    numbers = re.findall(r"\d+", folder.parent.name)
    return tuple(int(number) for number in numbers)


class PostgresServer:
    """One PostgreSQL server, started by :meth:`start` (or ``with``) and removed by :meth:`stop`.

    ``url`` is ``postgresql://postgres@127.0.0.1:PORT/postgres``; authentication
    is ``trust`` and the server listens on loopback only.
    """

    def __init__(self, *, bin_dir: str | Path | None = None) -> None:
        found = Path(bin_dir) if bin_dir is not None else find_postgres_bin()
        if found is None:
            raise RuntimeError(
                "PostgreSQL binaries not found (install the postgresql package "
                "or set ASCENT_POSTGRES_BIN to the folder holding initdb and pg_ctl)"
            )
        self.bin_dir = found
        self.port = 0
        self.root: Path | None = None
        self._running = False

    # ------------------------------------------------------------ properties

    @property
    def url(self) -> str:
        return self.url_for(_SUPERUSER)

    @property
    def data_dir(self) -> Path:
        return self._root() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._root()

    def url_for(self, database: str) -> str:
        """The URL of another database on this server (see :meth:`create_database`)."""
        if not self._running:
            raise RuntimeError("the PostgreSQL server is not running")
        return f"postgresql://{_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    # -------------------------------------------------------------- lifecycle

    def start(self) -> PostgresServer:
        if self._running:
            return self
        self.root = Path(tempfile.mkdtemp(prefix="ascent-pg-"))
        try:
            self._give_to_server_user(self.root)
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                _SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
                "--no-instructions",
            )
            self._start_server()
        except BaseException:
            self._remove()
            raise
        self._running = True
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """Stop the server at once (its data is disposable) and delete its folder."""
        if self._running:
            self._running = False
            atexit.unregister(self.stop)
            with contextlib.suppress(RuntimeError):  # already gone: the folder goes anyway
                self._pg_ctl("stop", "-m", "immediate")
        self._remove()

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def create_database(self, name: str) -> str:
        """Create an empty database (a clean slate for one test) and return its URL."""
        if not _NAME.match(name):
            raise ValueError(f"not a plain database name: {name!r}")
        self._run(
            "createdb", "-h", str(self.socket_dir), "-p", str(self.port), "-U", _SUPERUSER, name
        )
        return self.url_for(name)

    # -------------------------------------------------------------- internals

    def _start_server(self) -> None:
        settings = {**_FAST_SETTINGS, "unix_socket_directories": f"'{self.socket_dir}'"}
        config = self.data_dir / "postgresql.conf"
        base = config.read_text()

        def launch() -> None:
            self.port = free_port()
            lines = [f"{key} = {value}" for key, value in {**settings, "port": self.port}.items()]
            config.write_text(
                base + "\n# ascent.testing.PostgresServer\n" + "\n".join(lines) + "\n"
            )
            self._pg_ctl("start", "-l", str(self._root() / "server.log"))

        retry_start(launch, attempts=_START_ATTEMPTS)

    def _pg_ctl(self, action: str, *options: str) -> None:
        self._run(
            "pg_ctl", action, "-D", str(self.data_dir), "-w", "-t", str(_START_TIMEOUT), *options
        )

    def _run(self, program: str, *arguments: str) -> None:
        command = [str(self.bin_dir / program), *arguments]
        if _is_root():
            command = _as_server_user(command)
        done = subprocess.run(
            command,
            cwd=self._root(),  # the server user may not be allowed into the caller's folder
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_START_TIMEOUT * 2,
            check=False,
        )
        if done.returncode != 0:
            tail = log_tail(self._root() / "server.log")
            said = done.stderr.strip() or done.stdout.strip()
            log_text = f"\nserver log:\n{tail}" if tail else ""
            raise RuntimeError(f"{program} failed ({done.returncode}): {said}{log_text}")

    def _give_to_server_user(self, folder: Path) -> None:
        if _is_root():
            import pwd

            account = pwd.getpwnam(_SYSTEM_USER)
            os.chown(folder, account.pw_uid, account.pw_gid)

    def _root(self) -> Path:
        if self.root is None:
            raise RuntimeError("the PostgreSQL server has not been started")
        return self.root

    def _remove(self) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _as_server_user(command: list[str]) -> list[str]:
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", _SYSTEM_USER, "--", *command]
    return ["su", "-s", "/bin/sh", _SYSTEM_USER, "-c", shlex.join(command)]

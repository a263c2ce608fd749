"""A throwaway RabbitMQ node on loopback, for tests that need the real broker.

It runs the platform's RabbitMQ (Debian's ``rabbitmq-server`` package) as a
private node: its own name, cookie, data folder, free AMQP and distribution
ports, and its own ``epmd`` on a free port, so it neither sees nor disturbs a
system node. No plugin is enabled (the management UI costs seconds to boot)::

    with RabbitMQServer() as server:
        broker = RabbitBroker(server.url)   # amqp://guest:guest@127.0.0.1:PORT/

Each test can take a virtual host of its own: ``server.fresh_url()`` names one
no one has used, so queues and exchanges left by another test are not there.
The first ``vhosts`` (32) are made when the node boots, at no cost per test;
later ones with ``rabbitmqctl``, seconds each.

Readiness is the AMQP handshake itself: the node answers ``Connection.Start``
only once it accepts clients. Stopping it stops the VM cleanly, then ends its
process group and the ``epmd`` it used, and deletes its folder.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import secrets
import shutil
import socket
import subprocess
from pathlib import Path

from ascent.testing._servers import (
    LoopbackServer,
    free_port,
    log_tail,
    spawn,
    stop_process_group,
)

__all__ = ["RabbitMQServer", "find_rabbitmq_server"]

_START_TIMEOUT = 60.0
# Debian's /usr/sbin/rabbitmq-server switches to the rabbitmq user through su;
# the script it wraps runs the node as whoever calls it.
_DEBIAN_SCRIPT = "/usr/lib/rabbitmq/bin/rabbitmq-server"
_AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


def find_rabbitmq_server() -> str | None:
    """The ``rabbitmq-server`` script, or ``None`` when RabbitMQ is not installed."""
    if os.access(_DEBIAN_SCRIPT, os.X_OK):
        return _DEBIAN_SCRIPT
    return shutil.which("rabbitmq-server")


def find_epmd() -> str | None:
    """Erlang's port mapper daemon, which every distributed Erlang node needs."""
    found = shutil.which("epmd")
    if found is not None:
        return found
    for candidate in ("/usr/lib/erlang/bin/epmd", "/usr/local/lib/erlang/bin/epmd"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


class RabbitMQServer(LoopbackServer):
    """One RabbitMQ node, started by :meth:`start` (or ``with``) and removed by :meth:`stop`."""

    folder_prefix = "ascent-rabbitmq-"

    def __init__(
        self, *, program: str | None = None, epmd: str | None = None, vhosts: int = 32
    ) -> None:
        found = program or find_rabbitmq_server()
        if found is None:
            raise RuntimeError("rabbitmq-server not found (install the rabbitmq-server package)")
        epmd_found = epmd or find_epmd()
        if epmd_found is None:
            raise RuntimeError(
                "epmd not found (it comes with Erlang, a rabbitmq-server dependency)"
            )
        super().__init__()
        self.program = found
        self.epmd_program = epmd_found
        self.dist_port = 0
        self.epmd_port = 0
        self.node_name = f"ascent-{secrets.token_hex(4)}@localhost"
        self.vhosts = vhosts
        self._vhost_numbers = itertools.count(1)
        self._epmd: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self._process is None:
            raise RuntimeError("the RabbitMQ node is not running")
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def fresh_url(self) -> str:
        """A URL on a virtual host no one has used yet (``/t1``, ``/t2``...). The first
        ``vhosts`` were made at boot; each one after costs a ``rabbitmqctl`` call or two
        (seconds)."""
        if self._process is None:
            raise RuntimeError("the RabbitMQ node is not running")
        name = f"t{next(self._vhost_numbers)}"
        if int(name[1:]) > self.vhosts:
            self._ctl("add_vhost", name)
            self._ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{name}"

    def _ctl(self, *arguments: str) -> None:
        """``rabbitmqctl`` against this node (its name, cookie and epmd)."""
        assert self.root is not None
        ctl = Path(self.program).with_name("rabbitmqctl")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root),
            "LANG": "C.UTF-8",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
        }
        done = subprocess.run(
            [str(ctl), "-n", self.node_name, *arguments],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
        )
        if done.returncode != 0:
            said = (done.stdout + done.stderr).decode(errors="replace")[-1000:]
            raise RuntimeError(f"rabbitmqctl {arguments[0]} failed: {said}")

    @property
    def pids(self) -> list[int]:
        """The processes this node runs on (wrapper and ``epmd``), to check a stop left none."""
        return [p.pid for p in (self._process, self._epmd) if p is not None]

    def _prepare(self) -> None:
        assert self.root is not None
        cookie = self.root / ".erlang.cookie"  # HOME is the root: the node reads it there
        cookie.write_text(secrets.token_hex(16))
        cookie.chmod(0o400)
        (self.root / "enabled_plugins").write_text("[].\n")
        # guest may log in from loopback only, which is where the tests are; the
        # low disk limit keeps a nearly full test machine from blocking publishers.
        (self.root / "definitions.json").write_text(json.dumps(_definitions(self.vhosts)))
        (self.root / "rabbitmq.conf").write_text(
            f"load_definitions = {self.root / 'definitions.json'}\n"
            "loopback_users.guest = true\n"
            "disk_free_limit.absolute = 1MB\n"
            "log.console = false\n"
            "log.file.level = warning\n"
        )

    def restart(self) -> None:
        """Stop the node and start it again: same ports, name and data (durable queues stay)."""
        if self._process is None:
            raise RuntimeError("the RabbitMQ node is not running")
        process, self._process = self._process, None
        stop_process_group(process)
        self._launch_node(fresh=False)

    def _launch(self) -> None:
        self._launch_node(fresh=True)

    def _stopped(self) -> None:
        self._stop_epmd()

    def _launch_node(self, *, fresh: bool) -> None:
        assert self.root is not None
        if fresh:
            self._stop_epmd()
            self.port, self.dist_port, self.epmd_port = free_port(), free_port(), free_port()
            epmd = [self.epmd_program, "-port", str(self.epmd_port), "-address", "127.0.0.1"]
            self._epmd = spawn(epmd, ready=lambda: _accepts(self.epmd_port), timeout=10)
            if self._epmd is None:
                raise RuntimeError(f"epmd did not start on port {self.epmd_port}")
        root = str(self.root)
        log = self.root / "log" / "node.log"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": root,
            "LANG": "C.UTF-8",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_NODENAME": self.node_name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_BASE": root,
            "RABBITMQ_MNESIA_BASE": f"{root}/mnesia",
            "RABBITMQ_LOG_BASE": f"{root}/log",
            "RABBITMQ_LOGS": str(log),
            "RABBITMQ_PID_FILE": f"{root}/node.pid",
            "RABBITMQ_CONFIG_FILE": f"{root}/rabbitmq.conf",
            "RABBITMQ_ADVANCED_CONFIG_FILE": f"{root}/advanced.config",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{root}/enabled_plugins",
            "RABBITMQ_CONF_ENV_FILE": f"{root}/rabbitmq-env.conf",  # absent: ignore /etc's
        }
        with (self.root / "startup.log").open("ab") as output:
            process = spawn(
                [self.program],
                cwd=self.root,
                env=env,
                output=output,
                ready=lambda: _answers_amqp(self.port),
                timeout=_START_TIMEOUT,
            )
        if process is not None:
            self._process = process
            return
        if fresh:
            self._stop_epmd()
        tail = log_tail(self.root / "startup.log") + log_tail(log)
        raise RuntimeError(f"rabbitmq-server did not start on port {self.port}\n{tail}")

    def _stop_epmd(self) -> None:
        epmd, self._epmd = self._epmd, None
        if epmd is not None:
            stop_process_group(epmd, grace=5)


def _definitions(vhosts: int) -> dict[str, object]:
    """The node's users, virtual hosts and permissions, loaded at boot. A node that
    loads definitions makes no default user: guest is defined here."""
    names = ["/", *(f"t{n}" for n in range(1, vhosts + 1))]
    salt = secrets.token_bytes(4)
    digest = hashlib.sha256(salt + b"guest").digest()
    return {
        "users": [
            {
                "name": "guest",
                "password_hash": base64.b64encode(salt + digest).decode(),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": ["administrator"],
            }
        ],
        "vhosts": [{"name": name} for name in names],
        "permissions": [
            {"user": "guest", "vhost": name, "configure": ".*", "write": ".*", "read": ".*"}
            for name in names
        ],
    }


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _answers_amqp(port: int) -> bool:
    """Whether the node sends ``Connection.Start`` (a method frame) for a protocol header."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(_AMQP_HEADER)
            return connection.recv(1) == b"\x01"
    except OSError:
        return False

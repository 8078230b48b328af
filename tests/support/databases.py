"""Databases and disks for tests: scratch PostgreSQL databases, a private cluster, a tmpfs.

A scratch database that is to be migrated anyway is a copy of a template migrated once per test
run (``CREATE DATABASE … TEMPLATE``), not migrated again: a migration costs some 0.3 to 0.6 s,
a copy a tenth of it. The template is named for the run's process (several runs, and each
pytest-xdist worker, share the server) and dropped when the run ends (:func:`drop_templates`), or
by the next run on the machine if its own was killed.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # no stubs
import pytest

from storage import Database
from tests.support import IN_CI
from tests.support.processes import free_port

__all__ = [
    "POSTGRES_URL",
    "PrivateCluster",
    "drop_templates",
    "own_postgres",
    "postgres_available",
    "scratch_postgres",
    "tmpfs",
]

POSTGRES_URL = os.environ.get(
    "BOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
"""The PostgreSQL server the tests make their scratch databases on."""


def postgres_available(url: str = POSTGRES_URL) -> bool:
    """Whether the server at ``url`` answers."""

    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(url.replace("+asyncpg", ""), timeout=3)
        except (OSError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True

    # Probed on a thread of its own: session fixtures may be set up inside a running loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, probe()).result()


_templates: dict[str, str] = {}
"""Server URL → the name of this run's migrated template on it."""


def _on(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server_url``."""
    return server_url.rsplit("/", 1)[0] + "/" + name


_MACHINE = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
"""This machine, in a template's name: only its own runs' templates are its to clean up."""


async def _drop_orphans(admin: asyncpg.Connection) -> None:
    """Drop the templates of this machine's runs that ended without dropping theirs (killed)."""
    prefix = f"makerdesk_template_{_MACHINE}_"
    for row in await admin.fetch(
        "SELECT datname FROM pg_database WHERE datname LIKE 'makerdesk\\_template\\_%'"
    ):
        name = str(row["datname"])
        if not name.startswith(prefix):
            continue
        pid = int(name.removeprefix(prefix).split("_", 1)[0])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except PermissionError:
            pass  # alive, another user's


async def _template(server_url: str, admin: asyncpg.Connection) -> str:
    """This run's migrated template on ``server_url``, made at its first use."""
    name = _templates.get(server_url)
    if name is None:
        await _drop_orphans(admin)
        name = f"makerdesk_template_{_MACHINE}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        if not _templates:
            # Also at the exit, should a run end without its session's end (the fixture that
            # drops it at the end is only one of the ways in).
            atexit.register(drop_templates)
        await admin.execute(f'CREATE DATABASE "{name}"')
        _templates[server_url] = name
        database = Database(_on(server_url, name))
        try:
            await database.migrate()
        finally:
            await database.close()
    return name


async def _copy(admin: asyncpg.Connection, name: str, template: str) -> None:
    """``CREATE DATABASE name TEMPLATE template``, once the template's last connection is gone
    (the server may still be closing the migration's)."""
    for attempt in range(50):
        try:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            return
        except asyncpg.ObjectInUseError:
            if attempt == 49:
                raise
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def scratch_postgres(server_url: str, *, migrated: bool = False) -> AsyncIterator[str]:
    """A database of its own for one test, dropped afterwards.

    Args:
        server_url: The server, as the URL of any database on it.
        migrated: A copy of the run's migrated template; otherwise empty.
    """
    name = f"makerdesk_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url.replace("+asyncpg", ""))
    try:
        if migrated:
            await _copy(admin, name, await _template(server_url, admin))
        else:
            await admin.execute(f'CREATE DATABASE "{name}"')
        yield _on(server_url, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def drop_templates() -> None:
    """Drop the templates this run made (at its end)."""

    async def drop() -> None:
        while _templates:
            server_url, name = _templates.popitem()
            admin = await asyncpg.connect(server_url.replace("+asyncpg", ""), timeout=3)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(drop())
        return
    # On a thread of its own: the session may end inside a running loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, drop()).result()


@contextlib.contextmanager
def own_postgres() -> Iterator[tuple[str, PrivateCluster]]:
    """A PostgreSQL cluster of the test's own, which it may stop and start; its URL."""
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not binaries:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL's server binaries (initdb) are missing")
        pytest.skip("PostgreSQL's server binaries (initdb) are not installed")
    # Not under pytest's folder: that is its user's alone, and the server may run as postgres.
    folder = Path(tempfile.mkdtemp(prefix="makerdesk-pg-"))
    cluster = PrivateCluster(binaries[-1].parent, folder, free_port())
    try:
        cluster.create()
        cluster.start()
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{cluster.port}/postgres", cluster
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


class PrivateCluster:
    """``initdb``, ``pg_ctl start`` and ``stop`` on a folder and port of its own."""

    def __init__(self, binaries: Path, folder: Path, port: int) -> None:
        self.binaries = binaries
        self.folder = folder
        self.port = port
        # PostgreSQL refuses to run as root: as root, run it as the postgres account.
        self.user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)

    def create(self) -> None:
        if self.user:
            account = pwd.getpwnam(self.user)
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        self._run(
            str(self.binaries / "initdb"), "-D", str(self.folder / "data"), "-U", "postgres",
            "--auth=trust", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        self._run(
            str(self.binaries / "pg_ctl"), "-D", str(self.folder / "data"), "-w", "-l",
            str(self.folder / "log"), "-o", f"-p {self.port} -k {self.folder} -h 127.0.0.1",
            "start",
        )  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(
                str(self.binaries / "pg_ctl"), "-D", str(self.folder / "data"), "-w", "-m",
                "fast", "stop",
            )  # fmt: skip


@contextlib.contextmanager
def tmpfs(size: str, *, inodes: int | None = None) -> Iterator[Path]:
    """A tmpfs of ``size`` (``"128m"``, ``"64k"``), mounted for the test, unmounted after it.

    It needs root, as CI has: elsewhere the test is skipped, in CI it fails.
    """
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("mounting a tmpfs needs root; CI runs as root")
        pytest.skip("mounting a tmpfs needs root (the full-disk tests run as root, as in CI)")
    folder = Path(tempfile.mkdtemp(prefix="makerdesk-disk-"))
    options = f"size={size}" + (f",nr_inodes={inodes}" if inodes else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        folder.rmdir()
        if IN_CI:
            pytest.fail(f"cannot mount a tmpfs: {mounted.stderr}")
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=False)
        folder.rmdir()

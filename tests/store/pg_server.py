"""A throwaway PostgreSQL server on loopback for the store tests.

``initdb`` into a temporary directory, ``pg_ctl start`` on 127.0.0.1 and a free port
(fsync off: nothing here has to survive a crash of the machine), trust authentication;
``stop`` shuts it down at once and removes the directory. PostgreSQL refuses to run as
root, so as root the server runs as the ``postgres`` OS user.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

REQUIRED = os.environ.get("REQUIRE_SYSTEM_TOOLS")


def find_binaries() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: on PATH, else the newest Debian one."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(os.path.realpath(on_path)).parent
    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(bindir) / "initdb").exists() and (Path(bindir) / "pg_ctl").exists():
            return Path(bindir)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """One running server; :meth:`new_database` hands out empty databases."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self._as_user: list[str] = []
        self.dir = Path(tempfile.mkdtemp(prefix="opscope-pg-"))
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.port = _free_port()
        self._names = itertools.count()
        try:
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                      "-E", "UTF8", "--locale=C", "--no-sync")
            self._start()
        except BaseException:
            # A server that started but could not be reached is stopped too.
            subprocess.run([*self._as_user, str(self.bindir / "pg_ctl"), "stop", "-D",
                            str(self.data), "-m", "immediate"], capture_output=True,
                           timeout=60, check=False)
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def _start(self) -> None:
        options = f"-k {self.dir} -h 127.0.0.1 -p {self.port} -F -c max_connections=200"
        self._run("pg_ctl", "start", "-w", "-t", "30", "-D", str(self.data),
                  "-l", str(self.dir / "server.log"), "-o", options)
        self.admin = psycopg.connect(self.dsn("postgres"), autocommit=True)

    def crash_and_restart(self) -> None:
        """Stop the server the way a crash would (no shutdown checkpoint), start it again."""
        self.admin.close()
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
        self._start()

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run([*self._as_user, str(self.bindir / tool), *args],
                                capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr.strip()}")

    def dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def new_database(self) -> str:
        """A fresh, empty database; returns its DSN."""
        name = f"t_{next(self._names)}"
        self.admin.execute(f"CREATE DATABASE {name} TEMPLATE template0")
        return self.dsn(name)

    def drop_database(self, dsn: str) -> None:
        name = dsn.rsplit("dbname=", 1)[1]
        self.admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        self.admin.close()
        try:
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class DatabasePool:
    """Clean databases for one test each, reused rather than created anew.

    A database given back is emptied (``DELETE`` from every table but ``schema_version``,
    its sequences restarted), which costs about 35 ms for the small tables of a
    test, where ``TRUNCATE`` costs about 120 ms, creating and migrating a database about
    180 ms and dropping one several hundred.
    """

    def __init__(self, server: PgServer) -> None:
        self.server = server
        self._free: list[str] = []

    def take(self) -> str:
        return self._free.pop() if self._free else self.server.new_database()

    def give_back(self, dsn: str) -> None:
        with psycopg.connect(dsn, autocommit=True) as con, con.transaction():
            tables = [r[0] for r in con.execute(
                "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'schema_version'").fetchall()]
            for table in tables:
                con.execute(f"DELETE FROM {table}")
            sequences = [r[0] for r in con.execute(
                "SELECT quote_ident(sequencename) FROM pg_sequences "
                "WHERE schemaname = 'public'").fetchall()]
            for sequence in sequences:
                con.execute(f"ALTER SEQUENCE {sequence} RESTART")
        self._free.append(dsn)

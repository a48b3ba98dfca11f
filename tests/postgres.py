"""A real PostgreSQL server for a test: a throwaway cluster in a temp folder, on 127.0.0.1.

`postgres_server()` finds PostgreSQL's binaries (`initdb`, `pg_ctl`, `postgres` on PATH, else
Debian's `/usr/lib/postgresql/<version>/bin/`, the highest version), runs `initdb` in a temp
folder, starts the server on a free loopback port (its Unix socket in the same folder, so it
touches nothing outside it), waits until it accepts connections, creates the database and
yields its connection parameters; at the end it stops the server (`pg_ctl stop -m fast`) and
removes the folder, whatever happened in between.

PostgreSQL refuses to run as root. Run as root (a CI container, this sandbox), the cluster is
owned and served by an unprivileged account instead: `postgres` when it exists (Debian's
package creates it), else `nobody`; every PostgreSQL command runs through `setpriv` (or
`runuser`) as that account. Tests connect over TCP with a password, as Dagster does.

No binaries: the fixture skips with the reason (`.ci/run` installs Debian's `postgresql`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

DEBIAN_ROOT = Path("/usr/lib/postgresql")
TOOLS = ("initdb", "pg_ctl", "postgres")
START_TIMEOUT_S = 60.0


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries here, or no way to run them: the fixture skips with this reason."""


@dataclasses.dataclass(frozen=True)
class PostgresParams:
    """What a client needs: the shape of Dagster's `postgres_db` storage config."""

    username: str
    password: str
    hostname: str
    port: int
    db_name: str

    def dagster_postgres_db(self) -> dict[str, object]:
        return {
            "username": self.username,
            "password": self.password,
            "hostname": self.hostname,
            "db_name": self.db_name,
            "port": self.port,
        }

    def connect(self, db_name: str | None = None):
        import psycopg2

        return psycopg2.connect(
            host=self.hostname,
            port=self.port,
            user=self.username,
            password=self.password,
            dbname=db_name or self.db_name,
            connect_timeout=5,
        )


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.name)) or (0,)


def find_bin_dir() -> Path:
    """The folder holding initdb, pg_ctl and postgres: PATH first, else Debian's newest."""
    found = [shutil.which(tool) for tool in TOOLS]
    if all(found):
        # Debian links /usr/bin/pg_ctl... to a wrapper; the real binaries sit together.
        folders = {Path(os.path.realpath(p)).parent for p in found if p}
        if len(folders) == 1:
            return folders.pop()
    if DEBIAN_ROOT.is_dir():
        versions = sorted(
            (d for d in DEBIAN_ROOT.iterdir() if (d / "bin").is_dir()),
            key=_version_key,
            reverse=True,
        )
        for version in versions:
            if all((version / "bin" / tool).is_file() for tool in TOOLS):
                return version / "bin"
    raise PostgresUnavailable(
        "no PostgreSQL binaries (initdb, pg_ctl, postgres) on PATH or under "
        f"{DEBIAN_ROOT}/<version>/bin; install Debian's `postgresql` package (.ci/run does)"
    )


def _server_account() -> pwd.struct_passwd | None:
    """The unprivileged account to run PostgreSQL as when we are root, else None (ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresUnavailable("running as root and neither a `postgres` nor a `nobody` account")


def _as_account(account: pwd.struct_passwd | None, argv: list[str]) -> list[str]:
    """`argv` run as `account` (root only): setpriv drops every privilege, runuser otherwise."""
    if account is None:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv:
        return [
            setpriv,
            f"--reuid={account.pw_uid}",
            f"--regid={account.pw_gid}",
            "--clear-groups",
            "--",
            *argv,
        ]
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", account.pw_name, "--", *argv]
    raise PostgresUnavailable("running as root and neither setpriv nor runuser to drop privileges")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(argv: list[str], folder: Path, timeout: float = 120) -> None:
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    env.pop("PGDATA", None)
    proc = subprocess.run(
        argv, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({proc.returncode}): {(proc.stdout + proc.stderr)[-2000:]}"
        )


def _log_tail(log: Path) -> str:
    try:
        return log.read_text(encoding="utf-8", errors="replace")[-2000:]
    except OSError:
        return ""


@contextlib.contextmanager
def postgres_server(db_name: str = "sparky", username: str = "sparky") -> Iterator[PostgresParams]:
    """A running PostgreSQL server with database `db_name`; stopped and removed on exit."""
    bin_dir = find_bin_dir()
    account = _server_account()
    password = os.urandom(12).hex()
    folder = Path(tempfile.mkdtemp(prefix="sparky-pg-"))
    data = folder / "data"
    log = folder / "server.log"
    started = False
    try:
        pwfile = folder / "pwfile"
        pwfile.write_text(password + "\n", encoding="utf-8")
        if account is not None:
            os.chown(folder, account.pw_uid, account.pw_gid)
            os.chown(pwfile, account.pw_uid, account.pw_gid)
        os.chmod(pwfile, 0o600)
        _run(
            _as_account(
                account,
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    username,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                ],
            ),
            folder,
        )
        port = free_port()
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={folder} "
            # A test cluster: durability is not what is tested, speed is welcome.
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=100"
        )
        started = True  # from here on a server may be running: always try to stop it
        _run(
            _as_account(
                account,
                [
                    str(bin_dir / "pg_ctl"),
                    "start",
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    str(int(START_TIMEOUT_S)),
                ],
            ),
            folder,
            timeout=START_TIMEOUT_S + 30,
        )
        params = PostgresParams(username, password, "127.0.0.1", port, db_name)
        _wait_until_ready(params, log)
        create_database(params, db_name)
        yield params
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}\nserver log:\n{_log_tail(log)}") from exc
    finally:
        if started:
            with contextlib.suppress(Exception):
                _run(
                    _as_account(
                        account,
                        [str(bin_dir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w"],
                    ),
                    folder,
                    timeout=60,
                )
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_ready(params: PostgresParams, log: Path) -> None:
    import psycopg2

    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            params.connect("postgres").close()
            return
        except psycopg2.OperationalError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not accept connections: {exc}") from exc
            time.sleep(0.1)


def create_database(
    params: PostgresParams, db_name: str, owner: str | None = None
) -> PostgresParams:
    """Create database `db_name` on the server, owned by `owner` (a login role with the
    server's password, created when missing; default: the superuser); the parameters to
    connect to it as its owner."""
    owner = owner or params.username
    conn = params.connect("postgres")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (owner,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE ROLE "{owner}" LOGIN PASSWORD %s', (params.password,))
            cur.execute(f'CREATE DATABASE "{db_name}" OWNER "{owner}"')
    finally:
        conn.close()
    return dataclasses.replace(params, username=owner, db_name=db_name)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresParams]:
    """A PostgreSQL server for the module's tests (skips where PostgreSQL is not installed)."""
    try:
        find_bin_dir()
        _server_account()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    with postgres_server() as params:
        yield params

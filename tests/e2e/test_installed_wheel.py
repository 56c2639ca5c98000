"""Issue 17: the built wheel, installed into a fresh venv outside the checkout, runs from another
directory — ``mailbot init``, ``fetch --once`` and ``tickets list`` — with the rules, letters and
migrations it carries as package data (before, ``tickets list`` elsewhere said "rules directory not
found").

The wheel is built from a copy of the tracked sources (a stale ``build/`` in the checkout cannot leak
into it). The fresh venv gets mailbot from the wheel alone; its third-party dependencies come from the
test's own environment through a ``.pth`` line, so the test needs no download beyond the build backend.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.support.mail import make_mail

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _run(
    args: list[str], cwd: Path, env: dict[str, str], timeout: int = 240
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv outside the checkout with mailbot installed from its wheel; returns its bin dir."""
    root = tmp_path_factory.mktemp("wheel")
    files = subprocess.run(
        [
            "git",
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "pyproject.toml",
            "README.md",
            "mailbot",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    source = root / "src"
    for name in files:
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBOT_")}
    _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(root / "dist"), str(source)],
        root,
        env,
    )
    [wheel] = (root / "dist").glob("mailbot-*.whl")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], root, env)
    python = venv / "bin" / "python"
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        root,
        env,
    )
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # Dependencies only: a plain path line, so the checkout's editable mailbot is not on it.
    (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return venv / "bin"


def test_the_installed_wheel_runs_init_fetch_and_tickets_list_from_another_directory(
    installed: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "office"
    elsewhere.mkdir()
    env = {"PATH": f"{installed}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    where = _run([str(installed / "python"), "-c", "import mailbot; print(mailbot.__file__)"], elsewhere, env)
    assert str(installed.parent) in where.stdout and str(REPO) not in where.stdout  # the wheel's copy

    _run([str(installed / "mailbot"), "init"], elsewhere, env)
    inbox = elsewhere / "storage" / "inbox" / "new"
    assert inbox.parent.is_dir()
    inbox.mkdir(exist_ok=True)
    (inbox / "1.eml").write_bytes(make_mail(subject="Klacht over de factuur", body="De factuur klopt niet."))
    fetched = _run([str(installed / "mailbot"), "fetch", "--once"], elsewhere, env)
    assert "1" in fetched.stdout + fetched.stderr
    listed = _run([str(installed / "mailbot"), "tickets", "list"], elsewhere, env)
    assert "complaint" in listed.stdout and "ORD-" in listed.stdout
    checked = _run([str(installed / "mailbot"), "rules", "check"], elsewhere, env)
    assert "golden cases right" in checked.stdout

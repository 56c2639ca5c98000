"""Debian's chromium, headless, driven by Selenium through Debian's chromedriver (no downloads),
and the web interface served by a real uvicorn on a loopback port.

Without chromium the browser tests skip loudly on a laptop and fail in CI
(``MAILBOT_REQUIRE_SERVICES=1``), like every other real service.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.services import service_unavailable

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REPO = Path(__file__).resolve().parents[2]
#: Screenshots kept for people to look at (git-ignored); CI can publish the folder.
ARTEFACTS = REPO / "artefacts" / "browser"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chromium() -> Any:
    """A headless Chromium WebDriver, or a loud skip (a failure in CI) when it is not installed."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        hint = "apt-get install chromium chromium-driver"
        service_unavailable("chromium", f"{', '.join(missing)} missing ({hint})")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        service_unavailable("chromium", "selenium is not installed (pip install -e '.[dev]')")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1400"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    # A click that submits a form returns before the next page has loaded: look-ups wait for it.
    driver.implicitly_wait(5)
    return driver


def wait_for_url(driver: Any, url: str, timeout: float = 10) -> str:
    """The browser's URL once it is ``url`` (a form post and its redirect take a moment), or the
    URL it is stuck on after ``timeout`` — for the assertion message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and driver.current_url != url:
        time.sleep(0.05)
    return str(driver.current_url)


@contextmanager
def served(asgi: Any, port: int) -> Iterator[str]:
    """uvicorn serving ``asgi`` on 127.0.0.1:``port`` in a thread; yields the base URL."""
    import uvicorn

    config = uvicorn.Config(asgi, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def screenshot(driver: Any, name: str, *folders: Path) -> list[Path]:
    """Save the page as ``name``.png in each folder (the test's tmp dir and ``ARTEFACTS``)."""
    saved = []
    for folder in (*folders, ARTEFACTS):
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        assert driver.save_screenshot(str(path)), f"no screenshot {path}"
        saved.append(path)
    return saved

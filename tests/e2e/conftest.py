"""Browser end-to-end fixtures: a real consortium (anvil + three hall processes) and Debian's Chromium
driven by Playwright. Screenshots of every page go to ``artifacts/screenshots/``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest

from ledger.dev.devchain import free_port
from ledger.dev.localnet import LocalNet
from tests.integration.conftest import mode_env

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
FAILURES = Path(__file__).resolve().parents[2] / "artifacts" / "failures"
VIEWPORT = {"width": 1366, "height": 768}

if not Path(CHROMIUM).exists():  # `make setup` installs it; a missing browser must fail the suite, not skip it
    raise pytest.UsageError(f"{CHROMIUM} is missing: run `make setup` (it installs Debian's chromium)")

from playwright import sync_api  # noqa: E402

_OPEN_BROWSERS: list[Any] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """When a browser test fails, every page still open is kept (screenshot, HTML, URL) in artifacts/failures/."""
    report = yield
    if report.failed and call.when == "call":
        out = FAILURES / item.name
        for b in _OPEN_BROWSERS:
            for i, ctx in enumerate(b.contexts):
                for j, page in enumerate(ctx.pages):
                    try:
                        out.mkdir(parents=True, exist_ok=True)
                        page.screenshot(path=str(out / f"{i}-{j}.png"), full_page=True, timeout=10_000)
                        (out / f"{i}-{j}.html").write_text(f"<!-- {page.url} -->\n" + page.content())
                    except Exception as exc:  # a page that died with the failure: say so, keep the others
                        (out / f"{i}-{j}.error.txt").write_text(repr(exc))
    return report


@pytest.fixture(scope="module")
def net(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    """Chain + three hall processes taking cases in event mode, or in the mode a module's indirect parameter
    names (``pytest.mark.parametrize("net", ANCHOR_MODES, indirect=True)``); one consortium per module and mode."""
    mode = str(getattr(request, "param", "event"))
    n = LocalNet(
        Path(tmp_path_factory.mktemp(f"e2e-{mode}")),
        halls=3,
        chain_port=free_port(),
        hall_ports=[free_port() for _ in range(3)],
        block_time=1.0,
        node_env=mode_env(mode),
    )
    try:
        n.up(timeout=60)
        yield n
    finally:
        n.down()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        _OPEN_BROWSERS.append(b)
        try:
            yield b
        finally:
            _OPEN_BROWSERS.remove(b)
            b.close()


_USED: dict[tuple[str, str], int] = {}


def sign_in(browser: Any, hall: dict[str, Any], username: str, *, lang: str = "zh", shot: str | None = None) -> Any:
    """A new browser context signed in as ``username`` at ``hall`` through the sign-in page; returns the page."""
    creds = json.loads(Path(hall["dir"], "demo-accounts.json").read_text())[username]
    ctx = browser.new_context(viewport=VIEWPORT, accept_downloads=True, locale="zh-CN")
    page = ctx.new_page()
    watch_js_errors(page)
    page.goto(f"{hall['url']}/ui/login?lang={lang}")
    page.fill("#username", username)
    page.fill("#password", creds["password"])
    if creds.get("totp_secret"):
        page.fill("#totp", fresh_totp(hall, username))
    if shot:
        screenshot(page, shot)
    page.click("button[type=submit]")
    page.wait_for_url(f"{hall['url']}/")
    return page


def fresh_totp(hall: dict[str, Any], username: str) -> str:
    """The demo account's current one-time code, waiting for the next 30-s step if this one was used."""
    creds = json.loads(Path(hall["dir"], "demo-accounts.json").read_text())[username]
    totp = pyotp.TOTP(creds["totp_secret"])
    if _USED.get((hall["url"], username)) == int(time.time() // 30):  # a code is good once
        time.sleep(30 - time.time() % 30 + 0.5)
    _USED[(hall["url"], username)] = int(time.time() // 30)
    return str(totp.now())


def watch_js_errors(page: Any) -> list[str]:
    """Collect the page's uncaught script errors (and console errors) in ``page.js_errors``: a handler that
    throws fails silently for staff (a button that does nothing), so the tests assert there are none."""
    errors: list[str] = []
    page.js_errors = errors
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))

    def console(msg: Any) -> None:
        # an answer with an error status is logged by Chromium too; the pages show those in staff words
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(f"{page.url}: console: {msg.text}")

    page.on("console", console)
    return errors


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled", timeout=60_000)
    return path


def pdf(text: str) -> bytes:
    return b"%PDF-1.4\n% " + text.encode() + b"\n%%EOF\n"


def png(width: int = 64, height: int = 40) -> bytes:
    """A real (grey) PNG image, so a preview in the page has something to draw."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def reload_until(page: Any, selector: str, timeout: float = 90.0) -> None:
    """Reload until ``selector`` is on the page (transfer and anchoring are asynchronous); bounded."""
    deadline = time.monotonic() + timeout
    while True:
        if page.locator(selector).count():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} did not appear on {page.url} within {timeout} s")
        time.sleep(1.0)
        page.reload()

"""Browser tests: Debian's Chromium, driven by Playwright, against the real application served
by uvicorn on 127.0.0.1 and the test Neo4j with the seeded demo directory and demo accounts.

Playwright never downloads a browser here: it starts /usr/bin/chromium (`make chromium`
installs it from the distribution's packages). Screenshots of each main page go to
.artefacts/screenshots/ (git-ignored).

Every page a journey visits is checked with axe-core (installed from package-lock.json by
`make install`): `audit()` runs it and fails listing the violations; the screenshots run it
too, and a journey that left one of its pages unchecked fails at its end.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Frame, Page, expect, sync_playwright

from core.clock import utcnow
from core.i18n import message_key, read_catalogue
from core.passwords import hash_password, password_problem
from core.settings import PROJECT_ROOT, Settings
from graph.driver import Graph, create_driver
from graph.duplicates import Kind, scan
from graph.passwords import set_password
from homeward.app import create_app
from seed.identities import DEMO_IDENTITIES, create_demo_identities
from seed.loader import seed
from tests.conftest import wipe
from tests.smtp import MailServer

CHROMIUM = Path("/usr/bin/chromium")
AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = PROJECT_ROOT / ".artefacts" / "screenshots"
expect.set_options(timeout=30_000)
TOKENS = {i.role.value: i.token for i in DEMO_IDENTITIES}
EMAILS = {i.role.value: i.email for i in DEMO_IDENTITIES}
# The demo accounts' passwords in these tests only (a deployment's people set their own).
PASSWORDS = {role: f"{role} walks home in the rain" for role in EMAILS}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    """The application under uvicorn in a thread of this process, on 127.0.0.1."""

    def __init__(self, settings: Settings, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="e2e-uvicorn", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the application did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def reseed(settings: Settings) -> None:
    """A fresh demo directory with the demo accounts, once for all journeys (seeding takes
    seconds). Each journey works on records of its own, so the order does not matter.

    Synchronous, on a thread of its own with its own driver: while Playwright's sync API is
    in use, this thread counts as running an event loop, so no async fixture may run here.
    """

    async def work() -> None:
        driver = create_driver(settings)
        graph = Graph(driver, settings.neo4j_database)
        try:
            await wipe(graph)
            await seed(graph)
            await graph.write(create_demo_identities)
            # Passwords as `homeward users set-password` sets them, so the journeys sign in
            # as people do.
            for identity in DEMO_IDENTITIES:
                password = PASSWORDS[identity.role.value]
                assert password_problem(password, email=identity.email) is None
                await graph.write(
                    set_password,
                    user_id=identity.user_id,
                    password_hash=hash_password(password),
                    now=utcnow(),
                )
            # The duplicate review queue holds what the batch scan found.
            for kind in Kind:
                await scan(graph, kind=kind)
        finally:
            await driver.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, work()).result()


@pytest.fixture(scope="package")
def mail() -> Iterator[MailServer]:
    """A real SMTP server on the loopback that the application's notices go to."""
    with MailServer() as server:
        yield server


@pytest.fixture(scope="package")
def live_server(migrated: Graph, test_settings: Settings, mail: MailServer) -> Iterator[LiveServer]:
    reseed(test_settings)
    port = _free_port()
    settings = mail.settings(test_settings).model_copy(
        update={
            # The schema is in place already (`migrated`); the server need not race to
            # apply it.
            "migrate_on_startup": False,
            # The mails' links lead to this server, so a browser can follow them.
            "public_url": f"http://127.0.0.1:{port}",
            "mail_interval_s": 0.5,
        }
    )
    server = LiveServer(settings, port=port)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# Package scope: Playwright's sync API holds this thread's event loop while a browser is open,
# so it must be closed before the async tests of other packages run.
@pytest.fixture(scope="package")
def browser(live_server: LiveServer) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: run `make chromium` (Debian's package)")
    # launch() gives the browser a fresh temporary profile (user data dir) of its own and
    # removes it on close.
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def new_context(browser: Browser, live_server: LiveServer, **options: Any) -> BrowserContext:
    settings: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}, "locale": "en-GB"}
    ctx = browser.new_context(base_url=live_server.url, **(settings | options))
    # Generous: the first request of a cold server on a busy two-core machine takes seconds.
    ctx.set_default_timeout(30_000)
    ctx.set_default_navigation_timeout(60_000)
    if not AXE.exists():
        pytest.fail("no node_modules/axe-core: run `make install`")
    # Injected by the browser itself before the page's own script, so the pages'
    # Content-Security-Policy (script from their origin only) need not make room for it.
    ctx.add_init_script(path=str(AXE))
    return ctx


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    ctx = new_context(browser, live_server)
    try:
        yield ctx
    finally:
        ctx.close()


# The pages of /app that a test's page visited and that axe-core checked, by path with the
# references and ids in it replaced by "*".
VISITED = "_homeward_visited"
AUDITED = "_homeward_audited"


def _page_kind(url: str) -> str | None:
    path = urlsplit(url).path
    if not path.startswith("/app/") or path.startswith("/app/static/"):
        return None
    return re.sub(r"/[^/]*\d[^/]*", "/*", path.rstrip("/") or "/")


def watched(page: Page) -> Page:
    """`page`, noting each page of /app it shows, for `audit` and the check at the end."""
    visited: set[str] = set()
    setattr(page, VISITED, visited)
    setattr(page, AUDITED, set())

    def on_navigation(frame: Frame) -> None:
        kind = _page_kind(frame.url)
        if frame == page.main_frame and kind is not None:
            visited.add(kind)

    page.on("framenavigated", on_navigation)
    return page


def unaudited(page: Page) -> set[str]:
    visited: set[str] = getattr(page, VISITED, set())
    return visited - getattr(page, AUDITED, set())


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    p = watched(context.new_page())
    yield p
    if not p.is_closed() and _page_kind(p.url) in unaudited(p):
        audit(p)
    missed = unaudited(p)
    assert not missed, f"pages visited but never checked with axe-core: {sorted(missed)}"


AXE_RUN = """async () => {
    const result = await axe.run(document, {resultTypes: ["violations"]});
    return result.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 6).map(n => n.target.join(" ") + " :: " + n.failureSummary),
    }));
}"""


def audit(page: Page) -> None:
    """axe-core on the page as it is now; fails listing every violation."""
    page.wait_for_load_state("load")
    violations = page.evaluate(AXE_RUN)
    kind = _page_kind(page.url)
    audited: set[str] = getattr(page, AUDITED, set())
    if kind is not None:
        audited.add(kind)
    assert not violations, f"axe-core on {page.url}:\n" + "\n".join(
        json.dumps(v, ensure_ascii=False, indent=1) for v in violations
    )


def sign_in(page: Page, role: str) -> None:
    """The e-mail and password form, as a person signs in."""
    page.goto("/app/sign-in")
    audit(page)
    page.get_by_label("E-mail address").fill(EMAILS[role])
    page.get_by_label("Password").fill(PASSWORDS[role])
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("form[action='/app/sign-out']")).to_be_visible()


def sign_in_by_token(page: Page, role: str) -> None:
    page.goto("/app/sign-in")
    sign_in_with_token(page, TOKENS[role])


def sign_in_with_token(page: Page, token: str) -> None:
    """The token form, folded away under the e-mail and password form, as a person opens it."""
    page.get_by_text("Sign in with an access token instead").click()
    page.get_by_label("Your access token").fill(token)
    page.get_by_role("button", name="Sign in with the token").click()


# The keys of the product's messages ("gaps.title"): one shown on a page is a missing text.
MESSAGE_KEYS = frozenset(
    key for key in (message_key(m) for m in read_catalogue("en") if m.id) if "." in key
)


def shown_message_keys(page: Page) -> set[str]:
    words = set(re.findall(r"[\w.-]+", page.locator("body").inner_text()))
    return {w.strip(".") for w in words} & MESSAGE_KEYS


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """The page as the screen shows it (README.md shows some of these, from docs/img)."""
    audit(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path

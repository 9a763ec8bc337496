"""People at their own browsers, for the web-page tests: Debian's Chromium driven by
Playwright, and the checks a screen-reader or keyboard user would make of every page."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Headless Chromium from the OS package (nothing is downloaded)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


class Person:
    """One person at their own browser: a fresh context signed in with the keyboard alone, as
    they come back to it after the session ended (the sign-in page returns them where they were)."""

    def __init__(self, browser, site: str, user_id: str, secret: str, shots: Path) -> None:
        self.site, self.user_id, self.secret, self.shots = site, user_id, secret, shots
        self.page = browser.new_context().new_page()
        self.policy_violations: list[str] = []
        self.page.on("console", lambda message: self.policy_violations.append(message.text)
                     if "Content Security Policy" in message.text else None)
        self.open("/")

    def open(self, path: str) -> None:
        self.page.goto(self.site + path)
        self.sign_in_if_asked()

    def sign_in_if_asked(self) -> None:
        if "/login" not in self.page.url:
            return
        next_path = self.page.url.split("next=", 1)[1] if "next=" in self.page.url else "/"
        self.page.wait_for_function("document.activeElement && document.activeElement.id === 'user_id'")  # autofocus
        self.page.keyboard.type(self.user_id)
        self.page.keyboard.press("Tab")
        self.page.keyboard.type(self.secret)
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")
        assert self.page.url == self.site + unquote(next_path), self.page.locator("main").inner_text()

    def shown(self, name: str) -> None:
        """This page, checked as a screen-reader and keyboard user meets it, and its screenshot."""
        assert unnamed_controls(self.page) == [], name
        assert unreached_by_tab(self.page) == [], name
        self.page.screenshot(path=self.shots / f"{name}.png", full_page=True)


def sign_in(browser, site: str, user_id: str, secret: str):
    """A fresh browser context signed in as ``user_id`` with the keyboard alone; its page."""
    return Person(browser, site, user_id, secret, Path()).page


def unnamed_controls(page) -> list[str]:
    """Form controls in the accessibility tree without an accessible name."""
    tree = page.locator("main").aria_snapshot()
    return [line for line in tree.splitlines()
            if re.match(r"\s*- (textbox|combobox|button|checkbox|radio|spinbutton|link)\s*(\[|$|:)", line)]


def unreached_by_tab(page) -> list[str]:
    """Visible links and controls that pressing Tab through the page never focuses."""
    count = page.evaluate("""() => {
        const all = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea')]
            .filter(e => !e.disabled && e.getClientRects().length);
        all.forEach((e, i) => { e.dataset.tabCheck = i; });
        return all.length; }""")
    reached = set()
    for _ in range(count + 3):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("() => document.activeElement && document.activeElement.dataset.tabCheck"))
    return page.evaluate("""reached => [...document.querySelectorAll('[data-tab-check]')]
        .filter(e => !reached.includes(e.dataset.tabCheck)).map(e => e.outerHTML.slice(0, 120))""",
                         [r for r in reached if r is not None])

"""What a new user does, in a real browser: sign in, import people, generate their courses, watch them being
made, open one, answer its quiz. A screenshot of each page is kept in tests/artifacts/."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from coursegen.shared.settings import Settings
from tests.gateway.conftest import Tenant
from tests.helpers import pipeline

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "gateway"

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)"),
    pytest.mark.timeout(300),
]

CSV = (
    "employee_id,name,email,department,role,target_role,SQL,Data Visualization,Statistics,Python\r\n"
    'N-1,"Núñez, Inés",ines@example.com,Analytics,Data Analyst,,2,3,2,2\r\n'
    "N-2,Zoë Ødegård,zoe@example.com,Analytics,Data Analyst,,3,2,2,2\r\n"
)


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        await browser.close()


async def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


async def test_a_new_user_imports_people_generates_and_reads_a_course(
    chromium: Browser, gateway_url: str, tenant: Tenant, settings: Settings, db: asyncpg.Pool[Any], tmp_path: Path
) -> None:
    browser = chromium
    page = await browser.new_page(base_url=gateway_url, viewport={"width": 1200, "height": 900})
    await page.goto("/people")
    await expect(page).to_have_url(re.compile(r"/login"))
    await shot(page, "01-sign-in")
    await page.get_by_label("Email").fill(tenant.email)
    await page.get_by_label("Password").fill("wrong password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("do not match")
    await page.get_by_label("Password").fill(tenant.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="People", exact=True)).to_be_visible()
    await shot(page, "02-people")

    # Import: a file with a problem shows it and imports nothing; the fixed file imports.
    await page.get_by_role("link", name="Import").click()
    bad = tmp_path / "people.csv"
    bad.write_text(CSV.replace("Data Analyst,,3", "Astronaut,,3"), encoding="utf-8")
    await page.get_by_label("CSV file").set_input_files(str(bad))
    await page.get_by_role("button", name="Preview").click()
    await expect(page.get_by_role("alert")).to_contain_text("Line 3, column role: unknown role 'Astronaut'")
    await shot(page, "03-import-problems")
    await page.get_by_label("…or paste from a spreadsheet").fill(CSV)
    await page.get_by_role("button", name="Preview").click()
    await expect(page.get_by_role("cell", name="Núñez, Inés")).to_be_visible()
    await shot(page, "04-import-preview")
    await page.get_by_role("button", name="Import 2 employees").click()
    await expect(page.get_by_role("status").filter(has_text="Imported 2 employees")).to_be_visible()
    await page.get_by_role("link", name="See them").click()
    await expect(page.get_by_role("link", name="Zoë Ødegård")).to_be_visible()

    await page.get_by_role("link", name="Knowledge base").click()
    await expect(page.get_by_role("heading", name="Knowledge base")).to_be_visible()
    await page.get_by_label("Search the passages").fill("window functions")
    await page.get_by_role("button", name="Search").click()
    await shot(page, "05-knowledge-base")

    # Generate for the two imported people, and watch the job to the end.
    await page.get_by_role("link", name="Generate").click()
    await page.get_by_label("These employees:").check()
    await page.get_by_label("Núñez, Inés").check()
    await page.get_by_label("Zoë Ødegård").check()
    await shot(page, "06-generate")
    async with pipeline(settings):
        await page.get_by_role("button", name="Generate").click()
        await expect(page.get_by_role("heading", name=re.compile("^Job"))).to_be_visible()
        await expect(page.locator("#progress")).to_contain_text("Núñez, Inés", timeout=60_000)
        await shot(page, "07-job-running")
        await expect(page.locator("#progress")).to_contain_text("The job is completed", timeout=180_000)
    await shot(page, "08-job-done")

    await page.get_by_role("link", name="Open course").first.click()
    await expect(page.get_by_role("heading", name="Learning path")).to_be_visible()
    await expect(page.locator("svg").first).to_be_visible()
    await shot(page, "09-course")
    quiz = page.locator("form.cg-quiz").first
    questions = quiz.locator("fieldset")
    for i in range(await questions.count()):
        await questions.nth(i).get_by_role("radio").first.check()
    await quiz.get_by_role("button", name="Check answers").click()
    score = quiz.get_by_role("status")
    await expect(score).to_contain_text(re.compile(r"You got \d+ of \d+ right"))
    await expect(quiz.locator(".cg-feedback").first).to_be_visible()
    await score.scroll_into_view_if_needed()
    await shot(page, "10-quiz-score")

    # A citation's source links to the very passage in the knowledge base.
    passage = page.locator("a.cg-passage").first
    href = await passage.get_attribute("href")
    assert href and "#p-" in href
    await passage.click()
    await expect(page).to_have_url(re.compile(r"/knowledge/[0-9a-f-]+#p-[0-9a-f-]+$"))
    await expect(page.locator(f"article#p-{href.split('#p-')[1]}")).to_be_visible()

    await page.goto(page.url.split("/knowledge/")[0] + "/jobs")
    await page.get_by_role("link").filter(has_text=re.compile(r"^[0-9a-f]{8}$")).first.click()
    await page.get_by_role("link", name="Tokens, cost and trace").click()
    await expect(page.get_by_text(re.compile(r"Token reduction: \d+\.\d%"))).to_be_visible()
    await expect(page.get_by_role("heading", name="Handoffs")).to_be_visible()
    await expect(page.get_by_role("cell", name="planner").first).to_be_visible()
    await shot(page, "11-report")

    phone = await browser.new_page(base_url=gateway_url, viewport={"width": 390, "height": 844})
    await phone.context.add_cookies(await page.context.cookies())
    await phone.goto("/people")
    await shot(phone, "12-people-on-a-phone")

"""People in the loop, in a real browser: a reviewer approves an edited outline, requests a change on one module,
compares the versions and publishes; the learner opens their personal link, takes a quiz and finishes a module.
Screenshots of each page are kept in tests/artifacts/gateway/."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Browser, Page, expect

from coursegen.shared.settings import Settings
from tests.gateway.conftest import new_tenant
from tests.gateway.test_browser import CHROMIUM, chromium, shot
from tests.helpers import pipeline, wait_for
from tests.review._flow import FOUR_MODULES

__all__ = ["chromium"]

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)"),
    pytest.mark.timeout(420),
]


async def sign_in(page: Page, email: str, password: str) -> None:
    await page.goto("/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="People", exact=True)).to_be_visible()


async def reload_until(page: Page, text: str | re.Pattern[str], *, timeout: float = 120_000) -> None:
    """Reload the page until it shows ``text`` (the pipeline works on after the reviewer's click)."""
    waited = 0.0
    while True:
        try:
            await expect(page.locator("main")).to_contain_text(text, timeout=3_000)
            return
        except AssertionError:
            waited += 3_000
            if waited > timeout:
                raise
            await page.reload()


async def test_a_reviewer_approves_revises_and_publishes_and_the_learner_learns(
    chromium: Browser, gateway_url: str, settings: Settings, db: asyncpg.Pool[Any]
) -> None:
    tenant = await new_tenant(db, employees=(FOUR_MODULES,))
    page = await chromium.new_page(base_url=gateway_url, viewport={"width": 1200, "height": 900})
    await sign_in(page, tenant.email, tenant.password)

    async with pipeline(settings):
        # Generate with outline approval: the run waits for a person.
        await page.get_by_role("link", name="Generate").click()
        await page.get_by_label("Approve each outline before the writing starts").check()
        await page.get_by_role("button", name="Generate").click()
        await expect(page.locator("#progress")).to_contain_text("awaiting outline review", timeout=90_000)
        job_url = page.url

        await page.get_by_role("link", name="Review", exact=True).click()
        await page.get_by_role("link", name=re.compile("Review outline")).click()
        await expect(page.get_by_role("heading", name=f"Outline for {FOUR_MODULES.name}")).to_be_visible()
        await shot(page, "20-outline-review")
        # Python first, the Git/SQL module removed, an objective rewritten.
        first = page.locator("li.module-edit").nth(0)
        second = page.locator("li.module-edit").nth(1)
        planned_first = await first.get_by_label("Title").input_value()
        await first.get_by_label("Position").fill("2")
        await second.get_by_label("Position").fill("1")
        await second.get_by_label("Objectives (one per line)").fill("Write idiomatic Python for the team's services")
        await page.locator("li.module-edit").nth(3).get_by_label("Remove").check()
        await page.get_by_role("button", name="Approve outline").click()
        await expect(page.get_by_role("status").filter(has_text="The outline was approved")).to_be_visible()

        await page.goto(job_url)
        await expect(page.locator("#progress")).to_contain_text("The job is completed", timeout=180_000)

        await page.get_by_role("link", name="Review", exact=True).click()
        await page.locator("tr", has_text=FOUR_MODULES.name).get_by_role("link").first.click()
        await expect(page.get_by_role("heading", name="Versions")).to_be_visible()
        modules = page.locator("ol.review-modules > li h3")
        await expect(modules).to_have_count(3)
        await expect(modules.nth(1)).to_have_text(planned_first)
        await shot(page, "21-draft-review", full_page=False)

        # A change request on module 2: that module alone is rewritten, into version 2.
        await page.get_by_label("Comment on module 2 (required to request changes)").fill(
            "Add a worked case on reviewing a pull request with a failing test"
        )
        await page.get_by_role("button", name="Request changes to module 2").click()
        await expect(page.get_by_role("status").filter(has_text="Changes requested on module 2")).to_be_visible()
        await reload_until(page, "Version 2")

    await page.get_by_role("button", name="Compare").click()
    await expect(page.get_by_role("heading", name="Version 1 and version 2")).to_be_visible()
    await expect(page.locator("main")).to_contain_text("1 module changed: module 2.")
    await shot(page, "22-compare-versions")
    await page.get_by_role("link", name="← Version 2").click()

    # Publish version 2 (with a recorded override when claims are flagged).
    override = page.get_by_label("Reason to publish despite the flagged claims (recorded)")
    if await override.count():
        await override.fill("Checked the flagged sentences by hand")
    await page.get_by_role("button", name=re.compile("^Publish version 2")).click()
    await expect(page.get_by_role("status").filter(has_text="Version 2 is published")).to_be_visible()
    await page.get_by_role("button", name="Create a personal link").click()
    link = await page.get_by_label("Personal link").input_value()
    assert re.search(r"/learn/open/[\w-]{20,}$", link)
    await shot(page, "23-published", full_page=False)

    await page.get_by_role("link", name="Audit trail", exact=True).click()
    for action in ("outline approved", "module changes requested", "version published"):
        await expect(page.get_by_role("cell", name=action, exact=True)).to_be_visible()
    await shot(page, "24-audit-trail")

    # The learner: a browser of their own, the personal link, the published course.
    learner = await chromium.new_page(base_url=gateway_url, viewport={"width": 390, "height": 844})
    await learner.goto(link)
    await expect(learner.get_by_role("heading", name=f"Your courses, {FOUR_MODULES.name}")).to_be_visible()
    await expect(learner.locator("main")).to_contain_text("version 2")
    await shot(learner, "25-learner-courses", full_page=False)
    await learner.locator("section.learner-course h2 a").first.click()
    await expect(learner.get_by_role("heading", name="Your progress", exact=True)).to_be_visible()

    # The quiz of module 1, answered right: scored and recorded on the server, and the module is complete.
    quiz = learner.locator("form.cg-quiz[data-module='0']")
    questions = quiz.locator("fieldset.cg-question")
    for i in range(await questions.count()):
        question = questions.nth(i)
        answer = int(await question.get_attribute("data-answer") or 0)
        await question.get_by_role("radio").nth(answer).check()
    await quiz.get_by_role("button", name="Check answers").click()
    await expect(quiz.locator(".cg-saved")).to_contain_text("Passed: the module is complete.")
    await expect(learner.locator("#status-1")).to_have_text("completed")
    await quiz.scroll_into_view_if_needed()
    await shot(learner, "26-learner-quiz", full_page=False)

    # Module 3 finished by hand; the page after the reload says so, from the server.
    await learner.get_by_role("button", name="Mark module 3 as done").click()
    await expect(learner.locator("#status-3")).to_have_text("completed")
    await expect(learner.locator("#best-1")).to_have_text("100%")
    await learner.get_by_role("heading", name="Your progress", exact=True).scroll_into_view_if_needed()
    await shot(learner, "27-learner-progress", full_page=False)

    course_id = await wait_for(db, "SELECT course_id FROM courses WHERE company_id = $1", tenant.company_id)
    attempts = await db.fetch(
        "SELECT module_index, version, correct, total FROM quiz_attempts WHERE course_id = $1", course_id
    )
    assert [(a["module_index"], a["version"], a["correct"] == a["total"]) for a in attempts] == [(0, 2, True)]
    progress = await db.fetch(
        "SELECT module_index, status FROM learner_progress WHERE course_id = $1 ORDER BY module_index", course_id
    )
    assert [(p["module_index"], p["status"]) for p in progress] == [(0, "completed"), (2, "completed")]

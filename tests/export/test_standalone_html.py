"""The standalone HTML file plays in Chromium with every network request refused."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Route, expect

from coursegen.shared.courseview import CourseView
from coursegen.shared.export import export_course
from tests.export.browser import chromium


def test_the_standalone_file_plays_the_course_and_its_quiz_offline(
    tmp_path: Path, view: CourseView, artifacts: Path
) -> None:
    exported = export_course(view, "html")
    path = tmp_path / exported.filename
    path.write_bytes(exported.data)

    with chromium() as browser:
        context = browser.new_context(offline=True)
        refused: list[str] = []

        def refuse(route: Route) -> None:
            refused.append(route.request.url)
            route.abort()

        context.route(re.compile(r"^(?!file:|data:).*"), refuse)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())

        expect(page.get_by_role("heading", name=view.title, level=1)).to_be_visible()
        module = view.modules[1]
        page.get_by_role("link", name=module.title, exact=True).click()
        region = page.get_by_role("region", name=f"Module 2: {module.title}")
        expect(region).to_be_visible()
        expect(page.get_by_text("Page 3 of")).to_be_visible()
        # The diagram is drawn from the inline SVG.
        expect(region.locator(".cg-diagram svg")).to_be_visible()
        first = module.quiz[0]
        region.get_by_role("group", name=re.compile(r"^Question 1:")).get_by_label(
            first.options[first.answer_index], exact=True
        ).check()
        region.get_by_role("button", name="Check answers").click()
        expect(region.get_by_role("status")).to_have_text(f"You got 1 of {len(module.quiz)} right.")
        feedback = region.get_by_role("group", name=re.compile(r"^Question 1:")).locator(".cg-feedback")
        expect(feedback).to_contain_text("Correct.")
        expect(feedback).to_contain_text(first.explanation)
        if len(module.quiz) > 1:
            expect(
                region.get_by_role("group", name=re.compile(r"^Question 2:")).locator(".cg-feedback")
            ).to_contain_text("Not answered.")
        page.get_by_role("button", name="Next").click()
        expect(page.get_by_role("heading", name=f"Module 3: {view.modules[2].title}")).to_be_visible()
        page.screenshot(path=artifacts / "standalone-offline.png", full_page=True)
        context.close()

    assert not errors, errors
    assert refused == []

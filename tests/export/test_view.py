"""The course view: what a learner sees of a stored course, and that model output never runs as code."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import lxml.html
import pytest

from coursegen.shared.courseview import CourseDataError, CourseView, render_course_fragment, render_course_page
from coursegen.shared.settings import Settings
from coursegen.shared.store import Database, connect
from coursegen.shared.store.courses import get_course
from tests.export.conftest import AssembledCourse, course_view, stored_course_json


def _tree(html: str) -> Any:
    return lxml.html.fromstring(html)


def test_the_fragment_shows_the_path_modules_citations_quiz_and_diagram(view: CourseView) -> None:
    tree = _tree(render_course_fragment(view))
    course = stored_course_json()["course"]

    path = [a.text_content().strip() for a in tree.cssselect(".cg-path a")]
    assert path == [m["title"] for m in course["modules"]]
    assert "Closes: Data Modeling (level 0 → 3, critical)" in tree.cssselect(".cg-path li")[0].text_content()
    headings = [h.text_content() for h in tree.cssselect("section.cg-module > h2")]
    assert headings == [f"Module {i + 1}: {m['title']}" for i, m in enumerate(course["modules"])]

    # Every citation links to a source of its own module that is on the page.
    citations = tree.cssselect("a.cite")
    assert citations
    for a in citations:
        target = a.get("href")[1:]
        (source,) = tree.xpath(f"//*[@id='{target}']")
        assert source.tag == "li" and source.getparent().get("class") == "cg-sources"

    first = tree.cssselect("section.cg-module")[0]
    text = first.text_content()
    assert course["modules"][0]["examples"][0]["title"] in text
    assert course["modules"][0]["exercises"][0]["title"] in text
    assert "About 3 weeks" in text and "min of reading" in text
    assert "Why this module" in text and "from level 0 to 3" in text
    questions = first.cssselect("fieldset.cg-question")
    assert len(questions) == len(course["modules"][0]["quiz"])
    assert len(questions[0].cssselect("input[type=radio]")) == 4
    assert course["modules"][0]["quiz"][0]["explanation"] in questions[0].text_content()
    assert first.cssselect(".cg-diagram svg path")
    assert first.cssselect(".cg-svg")[0].get("aria-label") == course["modules"][0]["alt_text"]
    assert course["modules"][0]["narration_script"][:40] in text
    assert "No narration audio was made for this module" in text


def test_the_page_prints_everything_and_the_standalone_page_fetches_nothing(view: CourseView) -> None:
    linked = render_course_page(view, standalone=False, static_url="/static/course")
    tree = _tree(linked)
    assert tree.cssselect("link[rel=stylesheet]")[0].get("href") == "/static/course/course.css"
    assert tree.cssselect("script")[0].get("src") == "/static/course/course.js"

    standalone = render_course_page(view, standalone=True)
    tree = _tree(standalone)
    assert "@media print" in tree.cssselect("style")[0].text
    assert not tree.xpath("//*[@src and not(starts-with(@src, 'data:'))] | //link[@href]")
    assert "default-src 'none'" in tree.cssselect("meta[http-equiv=Content-Security-Policy]")[0].get("content")
    assert tree.cssselect(".cg-course[data-paged]")


HOSTILE = [
    '<script>alert("pwned")</script>',
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=https://evil.example></iframe>",
]
HOSTILE_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)" viewBox="0 0 10 10">'
    '<script>alert(2)</script><rect width="5" height="5" onclick="alert(3)" style="fill:url(javascript:x)"/>'
    '<a href="javascript:alert(4)"><text x="1" y="1">Click</text></a>'
    '<foreignObject><iframe src="https://evil.example"></iframe></foreignObject>'
    '<use href="https://evil.example/x.svg#a"/><animate attributeName="href" to="javascript:alert(5)"/></svg>'
)


def _hostile_course() -> dict[str, Any]:
    course = copy.deepcopy(stored_course_json()["course"])
    evil = " ".join(HOSTILE)
    course["title"] = evil
    course["overview"] = evil
    module = course["modules"][0]
    for key in module["sections"]:
        module["sections"][key] = evil
    module["examples"][0]["steps"] = [evil, evil]
    module["quiz"][0]["question"] = evil
    module["quiz"][0]["options"][0] = evil
    module["quiz"][0]["explanation"] = evil
    module["alt_text"] = '" onmouseover="alert(1)'
    module["narration_script"] = evil
    module["sources"][0]["url"] = "javascript:alert(1)"
    module["sources"][0]["quote"] = evil
    return course


def test_script_and_handlers_from_model_output_never_reach_the_page() -> None:
    data = stored_course_json()
    course = _hostile_course()
    view = CourseView.from_json(course, media={0: {"diagram_svg": HOSTILE_SVG}, 1: {"diagram_svg": data["svgs"]["1"]}})
    html = render_course_page(view, standalone=True)
    tree = _tree(html)

    # The only scripts are the player's own; no element carries an event handler or a javascript: URL.
    scripts = tree.xpath("//script")
    assert len(scripts) == 1 and "CourseGen" in scripts[0].text
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (element.tag, name, value)
            if name.lower() in ("href", "src", "xlink:href", "action", "formaction", "style"):
                assert "javascript:" not in value.lower(), (element.tag, name, value)
    assert not tree.xpath("//iframe | //foreignobject | //animate | //img")
    assert not any(u.get("href", "").startswith("http") for u in tree.xpath("//use"))
    # What the model wrote is still shown, as text.
    assert '<script>alert("pwned")</script>' in tree.cssselect("#course-title")[0].text_content()
    # The rendered diagram of a clean module survives the allow-list whole.
    assert len(tree.cssselect("#module-2 .cg-diagram svg path")) >= 4


def test_a_stored_course_that_is_not_a_course_is_a_clear_error() -> None:
    course = stored_course_json()["course"]
    broken = copy.deepcopy(course)
    broken["modules"][0]["quiz"][0]["answer_index"] = 7
    with pytest.raises(CourseDataError, match="answer_index 7 is not one of the 4 options"):
        CourseView.from_json(broken)
    with pytest.raises(CourseDataError, match="not valid"):
        CourseView.from_json({"title": "x"})
    with pytest.raises(CourseDataError, match="not a JSON object"):
        CourseView.from_json([])  # type: ignore[arg-type]
    assert course_view(pass_mark=70).pass_mark == 70


async def test_get_course_reads_an_assembled_course_of_its_own_company_only(
    settings: Settings, assembled_course: AssembledCourse
) -> None:
    assert settings.database_url
    db = Database(await connect(settings.database_url))
    try:
        async with db.connection() as conn:
            stored = await get_course(conn, assembled_course.course_id, assembled_course.company_id)
            elsewhere = await get_course(conn, assembled_course.course_id, assembled_course.other_company_id)
            missing = await get_course(conn, uuid.uuid4(), assembled_course.company_id)
    finally:
        await db.close()
    assert elsewhere is None and missing is None
    assert stored is not None and stored.company_id == assembled_course.company_id
    view = CourseView.from_stored(stored)
    assert view.course_id == assembled_course.course_id
    assert len(view.modules) == len(stored.course["modules"]) >= 1
    assert all(m.diagram_svg and m.skills and m.objectives for m in view.modules)
    page = _tree(render_course_fragment(view))
    assert len(page.cssselect("section.cg-module .cg-diagram svg")) == len(view.modules)

"""The course view, written once: the model every renderer reads, and the HTML the app, the CLI and exports share.

``CourseView.from_stored(stored)`` parses and validates an assembled course;
``render_course_fragment`` gives its body as HTML (for the app's course page),
``render_course_page`` a whole document (``standalone=True``: everything inline,
for the offline player and the SCORM packages). Model text is escaped by Jinja2
or sanitized with nh3; diagrams pass a strict SVG allow-list.
"""

from coursegen.shared.courseview.load import load_course_view
from coursegen.shared.courseview.model import (
    DEFAULT_PASS_MARK,
    CourseDataError,
    CourseView,
    ModuleView,
    NarrationAudio,
    QuizQuestion,
)
from coursegen.shared.courseview.render import (
    render_course_fragment,
    render_course_page,
    static_files,
    static_text,
)
from coursegen.shared.courseview.sanitize import clean_html, clean_svg, markdown_html

__all__ = [
    "DEFAULT_PASS_MARK",
    "CourseDataError",
    "CourseView",
    "ModuleView",
    "NarrationAudio",
    "QuizQuestion",
    "clean_html",
    "clean_svg",
    "load_course_view",
    "markdown_html",
    "render_course_fragment",
    "render_course_page",
    "static_files",
    "static_text",
]

"""Rendering a course: the body as an HTML fragment, and a whole page (linked assets, or all inline)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from importlib import resources

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from coursegen.shared.courseview.model import CourseView, ModuleView, Source
from coursegen.shared.courseview.sanitize import clean_svg, inline_text, markdown_html

SECTIONS = (
    ("core_content", "Core content"),
    ("practical_applications", "Putting it into practice"),
    ("case_studies", "Case studies"),
)

AudioSource = Callable[[ModuleView], str]
"""Where a page finds a module's narration audio: a URL of the app, or (the default) a data: URI."""

PassageLink = Callable[[Source], str]
"""Where a page links a source's passage in the knowledge base ("" for none): only the app has such pages."""


def _inline_audio(module: ModuleView) -> str:
    return module.narration_audio.data_uri if module.narration_audio else ""


@functools.cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("coursegen.shared.courseview", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=False,
        lstrip_blocks=False,
    )

    def md(text: str, refs: Collection[int] = (), prefix: str = "") -> Markup:
        return markdown_html(text, refs=refs, anchor_prefix=prefix)

    def inline(text: str, refs: Collection[int] = (), prefix: str = "") -> Markup:
        return inline_text(text, refs=refs, anchor_prefix=prefix)

    env.globals.update(md=md, inline=inline, clean_svg=clean_svg, sections=SECTIONS)
    return env


def static_text(name: str) -> str:
    """One of the view's static files (``course.css``, ``course.js``) as text."""
    return resources.files("coursegen.shared.courseview").joinpath("static", name).read_text(encoding="utf-8")


def static_files() -> dict[str, bytes]:
    """Every static file the course view needs, by name: for an app to serve, or a package to carry."""
    folder = resources.files("coursegen.shared.courseview").joinpath("static")
    return {f.name: f.read_bytes() for f in folder.iterdir() if f.is_file()}


def inline_script(source: str) -> Markup:
    """Script text safe to put between <script> tags (it cannot close the element early)."""
    return Markup(source.replace("</", "<\\/"))


def render_course_fragment(
    view: CourseView,
    *,
    paged: bool = False,
    audio_src: AudioSource | None = None,
    passage_href: PassageLink | None = None,
) -> str:
    """The course body (an ``<article>``): learning path, modules, quiz, diagrams, sources; all model text escaped.

    ``paged`` shows one page at a time with Previous/Next (the player); otherwise the whole course scrolls.
    """
    template = _environment().get_template("fragment.html")
    return template.render(view=view, paged=paged, audio_src=audio_src or _inline_audio, passage_href=passage_href)


def render_course_page(
    view: CourseView,
    *,
    standalone: bool,
    paged: bool | None = None,
    static_url: str = "static",
    scripts: Sequence[str] = (),
    connect_src: Sequence[str] = (),
    audio_src: AudioSource | None = None,
) -> str:
    """A whole HTML document of the course.

    ``standalone``: styles, scripts, diagrams and audio inline, nothing fetched (a content security policy says
    so), so the file plays offline; ``scripts`` are added after the player (run-time adapters), and
    ``connect_src`` the only origins they may reach. Otherwise the page links ``course.css`` and ``course.js``
    under ``static_url``.
    """
    paged = standalone if paged is None else paged
    fragment = render_course_fragment(view, paged=paged, audio_src=audio_src)
    return (
        _environment()
        .get_template("page.html")
        .render(
            view=view,
            standalone=standalone,
            fragment=Markup(fragment),
            css=Markup(static_text("course.css").replace("</", "<\\/")),
            js=inline_script(static_text("course.js")),
            scripts=[inline_script(s) for s in scripts],
            static_url=static_url.rstrip("/"),
            connect_src=connect_src,
        )
    )

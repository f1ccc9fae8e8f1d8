"""Model text to safe HTML: Markdown with raw HTML off, then nh3; diagrams through a strict SVG allow-list.

Everything a model wrote reaches a page only through these functions or Jinja2's autoescape.
"""

from __future__ import annotations

import re
from collections.abc import Collection

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

_HTML_TAGS = {
    "p", "br", "strong", "em", "b", "i", "code", "pre", "blockquote", "ul", "ol", "li",
    "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "hr", "span", "sup",
}  # fmt: skip
_HTML_ATTRIBUTES = {"a": {"href", "title", "class"}, "span": {"class"}, "sup": {"class"}, "ol": {"start"}}
_URL_SCHEMES = {"http", "https", "mailto"}

_CITATION = re.compile(r"\[(\d{1,3})\]")


def _cite_tokens(text: str, refs: Collection[int], anchor_prefix: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    for match in _CITATION.finditer(text):
        ref = int(match.group(1))
        if ref not in refs:
            continue
        if match.start() > pos:
            plain = Token("text", "", 0)
            plain.content = text[pos : match.start()]
            out.append(plain)
        link = Token("html_inline", "", 0)
        # Only digits of our own making go into this markup.
        link.content = f'<a class="cite" href="#{anchor_prefix}{ref}">[{ref}]</a>'
        out.append(link)
        pos = match.end()
    if pos < len(text):
        rest = Token("text", "", 0)
        rest.content = text[pos:]
        out.append(rest)
    return out


def markdown_html(text: str, *, refs: Collection[int] = (), anchor_prefix: str = "") -> Markup:
    """Markdown (as the content agents write it) to sanitized HTML; ``[n]`` of a known source links to it."""
    tokens = _markdown.parse(text or "")
    if refs:
        for token in tokens:
            if token.type == "inline" and token.children:
                children: list[Token] = []
                for child in token.children:
                    children += _cite_tokens(child.content, refs, anchor_prefix) if child.type == "text" else [child]
                token.children = children
    html = _markdown.renderer.render(tokens, _markdown.options, {})
    return Markup(clean_html(html))


def inline_text(text: str, *, refs: Collection[int] = (), anchor_prefix: str = "") -> Markup:
    """One line of model text (a step, a quiz option) as inline HTML, without the paragraph around it."""
    html = str(markdown_html(text, refs=refs, anchor_prefix=anchor_prefix)).strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return Markup(html)


def clean_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=_HTML_TAGS,
        attributes=_HTML_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


_SVG_TAGS = {
    "svg", "g", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "text", "tspan",
    "title", "desc", "defs", "marker", "linearGradient", "radialGradient", "stop", "clipPath", "use",
}  # fmt: skip
_SVG_ATTRIBUTES = {
    "xmlns", "viewBox", "width", "height", "x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "rx", "ry",
    "d", "points", "transform", "fill", "fill-opacity", "stroke", "stroke-width", "stroke-linecap",
    "stroke-linejoin", "stroke-dasharray", "stroke-opacity", "opacity", "font-size", "font-family",
    "font-weight", "text-anchor", "dominant-baseline", "alignment-baseline", "dx", "dy", "class", "role",
    "aria-label", "aria-roledescription", "xml:space", "style", "data-id", "id", "marker-end", "marker-start",
    "markerWidth", "markerHeight", "refX", "refY", "orient", "offset", "stop-color", "preserveAspectRatio",
    "clip-path", "href", "xlink:href",
}  # fmt: skip
_SVG_STYLE_PROPERTIES = {
    "color", "fill", "stroke", "stroke-width", "font", "font-size", "font-family", "font-weight",
    "letter-spacing", "word-spacing", "text-transform", "direction", "opacity", "rx", "ry",
    "--_bg", "--_fg", "--_m", "--_l", "--_s", "--_a", "--_b", "--_c", "--_r", "--_fm",
}  # fmt: skip
_LOCAL_REFERENCE = re.compile(r"^#[\w.-]+$")


def _svg_attribute(element: str, attribute: str, value: str) -> str | None:
    if attribute in ("href", "xlink:href"):
        # Only references inside the diagram itself (a marker, a gradient): no links out, no javascript:.
        return value if _LOCAL_REFERENCE.match(value) else None
    if "url(" in value.lower() and not re.fullmatch(r"url\(#[\w.-]+\)", value.strip()):
        return None
    return value


def clean_svg(svg: str) -> Markup:
    """A diagram's SVG with only drawing elements and presentation attributes: no script, no handler, no link."""
    cleaned = nh3.clean(
        svg or "",
        tags=_SVG_TAGS,
        attributes={"*": _SVG_ATTRIBUTES},
        attribute_filter=_svg_attribute,
        url_schemes=set(),
        link_rel=None,
        strip_comments=True,
        filter_style_properties=_SVG_STYLE_PROPERTIES,
    )
    return Markup(cleaned.strip() if cleaned.lstrip().startswith("<svg") else "")

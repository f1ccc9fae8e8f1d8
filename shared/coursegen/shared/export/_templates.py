from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(value: Any) -> Any:
    # Control characters are not allowed in XML 1.0 at all, escaped or not: model text loses them.
    return _NOT_XML.sub("", value) if isinstance(value, str) else value


@functools.cache
def xml_templates() -> Environment:
    return Environment(
        loader=PackageLoader("coursegen.shared.export", "templates"),
        autoescape=True,
        finalize=_xml_safe,
        keep_trailing_newline=True,
    )


def render_xml(name: str, **context: Any) -> bytes:
    return xml_templates().get_template(name).render(**context).encode("utf-8")


def static_text(name: str) -> str:
    return resources.files("coursegen.shared.export").joinpath("static", name).read_text(encoding="utf-8")

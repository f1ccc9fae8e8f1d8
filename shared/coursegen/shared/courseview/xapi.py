"""xAPI from the course player: where statements go (``COURSEGEN_LRS_*``) and the script that sends them.

The app's learner view and every exported player include ``xapi_scripts(...)`` when an LRS is configured.
The credentials end up in the page a learner opens: use an LRS key that may only write statements.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
import uuid
from dataclasses import dataclass

from pydantic_settings import BaseSettings, SettingsConfigDict

from coursegen.shared.courseview.model import CourseView
from coursegen.shared.courseview.render import static_text


class LrsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COURSEGEN_LRS_", extra="ignore")

    url: str | None = None
    """The LRS's xAPI endpoint, e.g. ``https://lrs.example.com/xAPI/``."""
    username: str | None = None
    password: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.url and self.username and self.password)


@dataclass(frozen=True)
class XapiScripts:
    scripts: tuple[str, ...]
    """Scripts to add after the player's own."""
    connect_src: tuple[str, ...]
    """The only origin the page may send to (for its content security policy)."""


def course_iri(view: CourseView) -> str:
    return f"urn:coursegen:course:{view.course_id or uuid.uuid5(uuid.NAMESPACE_URL, view.title)}"


def xapi_scripts(view: CourseView, lrs: LrsSettings, *, learner_id: str, learner_name: str = "") -> XapiScripts | None:
    """The configuration and reporter script for a page of this course; None when no LRS is configured."""
    if not lrs.configured:
        return None
    assert lrs.url and lrs.username and lrs.password
    endpoint = urllib.parse.urlsplit(lrs.url)
    if endpoint.scheme not in ("http", "https") or not endpoint.netloc:
        raise ValueError(f"COURSEGEN_LRS_URL {lrs.url!r} is not an http(s) URL")
    token = base64.b64encode(f"{lrs.username}:{lrs.password}".encode()).decode()
    iri = course_iri(view)
    config = {
        "endpoint": lrs.url,
        "auth": f"Basic {token}",
        "actor": {
            "objectType": "Agent",
            "name": learner_name or learner_id,
            "account": {"homePage": "urn:coursegen:learner", "name": learner_id},
        },
        "course": {"id": iri, "name": view.title},
        "modules": [{"id": f"{iri}:module:{m.index + 1}", "name": m.title, "anchor": m.anchor} for m in view.modules],
    }
    # json.dumps of our own dict; "</" is escaped by the page renderer.
    setup = "window.COURSEGEN_XAPI = " + json.dumps(config) + ";"
    return XapiScripts(scripts=(setup, static_text("xapi.js")), connect_src=(f"{endpoint.scheme}://{endpoint.netloc}",))

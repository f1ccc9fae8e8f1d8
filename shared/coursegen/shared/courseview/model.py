"""The course as every renderer sees it: frozen models parsed and validated from the stored course JSON."""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from coursegen.shared.store.courses import StoredCourse

DEFAULT_PASS_MARK = 80
"""Percent of quiz questions answered correctly that passes the course (the SCORM mastery score)."""

WORDS_PER_MINUTE = 200


class CourseDataError(ValueError):
    """The stored course JSON is not a course that can be shown."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Source(_Frozen):
    ref: int = Field(ge=1)
    document: str
    heading: str = ""
    quote: str = ""
    url: str | None = None
    passage_id: uuid.UUID | None = None
    """The knowledge-base passage quoted (none for a web page)."""
    document_id: uuid.UUID | None = None

    @field_validator("passage_id", "document_id", mode="before")
    @classmethod
    def _id_or_none(cls, value: Any) -> Any:
        # A web source has an empty passage id; a malformed one links nowhere rather than failing the course.
        try:
            return uuid.UUID(str(value)) if value else None
        except ValueError:
            return None

    @field_validator("url")
    @classmethod
    def _only_web_links(cls, value: str | None) -> str | None:
        # A source link is followed by learners: nothing but http(s) becomes a link.
        if value and re.match(r"^https?://", value, re.IGNORECASE):
            return value
        return None


class WorkedExample(_Frozen):
    title: str
    scenario: str
    steps: tuple[str, ...] = ()


class Exercise(_Frozen):
    title: str
    task: str
    success_criteria: tuple[str, ...] = ()


class QuizQuestion(_Frozen):
    question: str
    options: tuple[str, ...] = Field(min_length=2)
    answer_index: int = Field(ge=0)
    explanation: str = ""

    @field_validator("answer_index")
    @classmethod
    def _answer_is_an_option(cls, value: int, info: Any) -> int:
        options = info.data.get("options")
        if options is not None and value >= len(options):
            raise ValueError(f"answer_index {value} is not one of the {len(options)} options")
        return value


class Sections(_Frozen):
    introduction: str = ""
    core_content: str = ""
    practical_applications: str = ""
    case_studies: str = ""
    assessments: str = ""


class Gap(_Frozen):
    skill: str
    current_level: int = 0
    required_level: int = 0
    importance: int = 0
    severity: str = ""


class LearningStep(_Frozen):
    step: int
    title: str
    weeks: int = 0
    module_index: int
    prerequisites: tuple[int, ...] = ()


class NarrationAudio(_Frozen):
    mime: str
    data: bytes

    @property
    def data_uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


class ModuleView(_Frozen):
    index: int = Field(ge=0)
    title: str
    sections: Sections
    examples: tuple[WorkedExample, ...] = ()
    exercises: tuple[Exercise, ...] = ()
    quiz: tuple[QuizQuestion, ...] = ()
    diagram_mermaid: str = ""
    diagram_svg: str | None = None
    alt_text: str = ""
    narration_script: str = ""
    narration_audio: NarrationAudio | None = None
    sources: tuple[Source, ...] = ()
    skills: tuple[str, ...] = ()
    """The skill gaps this module closes."""
    objectives: tuple[str, ...] = ()
    weeks: int = 0

    @property
    def anchor(self) -> str:
        return f"module-{self.index + 1}"

    def source_anchor(self, ref: int) -> str:
        return f"module-{self.index + 1}-source-{ref}"

    def question_id(self, number: int) -> str:
        """A stable id of a quiz question: the LMS's interaction id and the QTI item's identifier."""
        return f"m{self.index + 1}-q{number + 1}"

    @property
    def word_count(self) -> int:
        text = " ".join(
            [*self.sections.model_dump().values(), *(e.scenario + " ".join(e.steps) for e in self.examples)]
        )
        return len(re.findall(r"\b\w+\b", text))

    @property
    def reading_minutes(self) -> int:
        return max(1, round(self.word_count / WORDS_PER_MINUTE))


class CourseView(_Frozen):
    course_id: uuid.UUID | None = None
    employee_id: uuid.UUID | None = None
    """The learner the course was made for."""
    title: str
    employee: str = ""
    weeks: int = 0
    overview: str = ""
    how_to_use: str = ""
    closing: str = ""
    prioritized_gaps: tuple[Gap, ...] = ()
    learning_path: tuple[LearningStep, ...] = ()
    modules: tuple[ModuleView, ...] = Field(min_length=1)
    pass_mark: int = Field(default=DEFAULT_PASS_MARK, ge=0, le=100)
    """Percent of quiz questions to answer correctly to pass."""

    @classmethod
    def from_json(
        cls,
        course: dict[str, Any],
        *,
        course_id: uuid.UUID | None = None,
        media: dict[int, dict[str, Any]] | None = None,
        pass_mark: int = DEFAULT_PASS_MARK,
    ) -> CourseView:
        """Parse the finalizer's course JSON, adding per-module extras (diagram SVG, skills, audio) by index."""
        if not isinstance(course, dict):
            raise CourseDataError("the stored course is not a JSON object")
        media = media or {}
        weeks = {
            s.get("module_index"): s.get("weeks", 0) for s in course.get("learning_path") or [] if isinstance(s, dict)
        }
        modules = []
        for m in course.get("modules") or []:
            if not isinstance(m, dict):
                raise CourseDataError("a module of the stored course is not a JSON object")
            extra = media.get(m.get("index", -1), {})
            modules.append({**m, "weeks": weeks.get(m.get("index"), 0), **extra})
        try:
            return cls.model_validate({**course, "course_id": course_id, "modules": modules, "pass_mark": pass_mark})
        except ValidationError as exc:
            raise CourseDataError(f"the stored course is not valid: {exc}") from exc

    @classmethod
    def from_stored(
        cls,
        stored: StoredCourse,
        *,
        audio: dict[int, NarrationAudio] | None = None,
        pass_mark: int = DEFAULT_PASS_MARK,
    ) -> CourseView:
        media: dict[int, dict[str, Any]] = {
            m.module_index: {
                "diagram_svg": m.diagram_svg,
                "skills": m.skills,
                "objectives": m.objectives,
            }
            for m in stored.media
        }
        for index, clip in (audio or {}).items():
            media.setdefault(index, {})["narration_audio"] = clip
        view = cls.from_json(stored.course, course_id=stored.course_id, media=media, pass_mark=pass_mark)
        return view.model_copy(update={"employee_id": stored.employee_id})

    @property
    def question_count(self) -> int:
        return sum(len(m.quiz) for m in self.modules)

    @property
    def reading_minutes(self) -> int:
        return sum(m.reading_minutes for m in self.modules)

    def gaps_of(self, module: ModuleView) -> list[Gap]:
        """The prioritized gaps a module closes, most severe first (the "why" of the module)."""
        wanted = {s.lower() for s in module.skills}
        return [g for g in self.prioritized_gaps if g.skill.lower() in wanted]

"""``review.outline`` and ``review.module``: a person's answer, checked against the run's own company."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from coursegen.shared.consume import Delivery
from coursegen.shared.errors import InvalidEvent, PermanentError
from coursegen.shared.events import ModuleReview, OutlineReview
from coursegen.shared.review import commands
from coursegen.shared.service import Runtime
from coursegen.shared.stage import record_permanent_failure
from coursegen.shared.subjects import REVIEW_OUTLINE


def _parse(model: type[BaseModel], delivery: Delivery) -> BaseModel:
    try:
        return model.model_validate_json(delivery.body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise InvalidEvent(f"not a valid review command: {problems}") from exc


class ReviewHandler:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def handle(self, delivery: Delivery) -> None:
        if delivery.subject == REVIEW_OUTLINE:
            outline = _parse(OutlineReview, delivery)
            assert isinstance(outline, OutlineReview)
            await commands.review_outline(self.rt.db, self.rt.bus, outline)
        else:
            module = _parse(ModuleReview, delivery)
            assert isinstance(module, ModuleReview)
            await commands.review_module(self.rt.db, self.rt.bus, module)

    async def on_permanent(self, delivery: Delivery, error: PermanentError) -> None:
        # Refused and recorded (rejected_messages, stage.failed): nothing about another company's run is said.
        await record_permanent_failure(self.rt.db, self.rt.bus, "coordinator", delivery, error)

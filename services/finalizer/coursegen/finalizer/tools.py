"""The finalizer's tools: the course outline (titles and takeaways, never the full text)."""

from __future__ import annotations

import json

from agents import RunContextWrapper, function_tool

from coursegen.shared.errors import InvalidData
from coursegen.shared.stage import StageContext


@function_tool(failure_error_function=None)
async def get_course_outline(ctx: RunContextWrapper[StageContext]) -> str:
    """The course title, summary, learning path and each module's title, takeaways and review warnings."""
    h = ctx.context.handoff
    db = ctx.context.db
    plan = await db.fetchrow(
        "SELECT course_title, course_structure, learning_path, course_duration_weeks, employee_profile "
        "FROM cm_course_plans WHERE session_id = $1",
        h.session_id,
    )
    if plan is None:
        raise InvalidData(f"no course plan for session {h.session_id}")
    modules = await db.fetch(
        """
        SELECT c.module_index, c.module_name, c.module_spec -> 'key_takeaways' AS takeaways, q.decision
          FROM quality_reports q
          JOIN cm_module_content c USING (session_id, module_index, revision)
         WHERE q.session_id = $1 AND q.decision <> 'revise'
         ORDER BY c.module_index
        """,
        h.session_id,
    )
    return json.dumps(
        {
            "course_title": plan["course_title"],
            "summary": plan["course_structure"]["summary"],
            "weeks": plan["course_duration_weeks"],
            "target_role": plan["employee_profile"].get("target_role"),
            "learning_path": plan["learning_path"],
            "modules": [
                {
                    "index": m["module_index"],
                    "title": m["module_name"],
                    "takeaways": m["takeaways"],
                    "passed_with_warning": m["decision"] == "pass_with_warning",
                }
                for m in modules
            ],
        }
    )

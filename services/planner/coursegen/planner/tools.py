"""The planner's tools: read the employee and compute the skill gaps."""

from __future__ import annotations

import json

from agents import RunContextWrapper, function_tool

from coursegen.planner.gaps import RequiredSkill, rank_gaps
from coursegen.shared.errors import InvalidData
from coursegen.shared.stage import StageContext


async def load_profile(ctx: StageContext) -> dict[str, object]:
    h = ctx.handoff
    row = await ctx.db.fetchrow(
        """
        SELECT e.id, e.full_name, e.position, e.department, e.profile, e.company_id,
               cr.name AS current_role, tr.name AS target_role,
               coalesce(e.target_role_id, e.current_role_id) AS plan_role_id
          FROM employees e
          LEFT JOIN roles cr ON cr.id = e.current_role_id
          LEFT JOIN roles tr ON tr.id = e.target_role_id
         WHERE e.id = $1
        """,
        h.employee_id,
    )
    if row is None:
        raise InvalidData(f"employee {h.employee_id} does not exist")
    if row["company_id"] != h.company_id:
        raise InvalidData(f"employee {h.employee_id} is not of company {h.company_id}")
    if row["plan_role_id"] is None:
        raise InvalidData(f"employee {h.employee_id} has neither a role nor a target role")
    skills = await ctx.db.fetch(
        "SELECT skill_name, level FROM employee_skills WHERE employee_id = $1 ORDER BY skill_name", h.employee_id
    )
    profile: dict[str, object] = {
        "name": row["full_name"],
        "position": row["position"],
        "department": row["department"],
        "current_role": row["current_role"],
        "target_role": row["target_role"] or row["current_role"],
        "skills": {s["skill_name"]: s["level"] for s in skills},
        "plan_role_id": str(row["plan_role_id"]),
    }
    ctx.scratch["profile"] = profile
    return profile


@function_tool(failure_error_function=None)
async def get_employee_profile(ctx: RunContextWrapper[StageContext]) -> str:
    """The employee this course is for: name, position, current and target role, current skill levels (0-5)."""
    profile = await load_profile(ctx.context)
    return json.dumps({k: v for k, v in profile.items() if k != "plan_role_id"})


@function_tool(failure_error_function=None)
async def analyze_skill_gaps(ctx: RunContextWrapper[StageContext]) -> str:
    """The employee's skill gaps for the target role (missing or below the required level), most severe first."""
    c = ctx.context
    profile = c.scratch.get("profile") or await load_profile(c)
    required = [
        RequiredSkill(r["skill_name"], r["required_level"], r["importance"])
        for r in await c.db.fetch(
            "SELECT skill_name, required_level, importance FROM role_skills WHERE role_id = $1::uuid",
            profile["plan_role_id"],
        )
    ]
    skills = profile["skills"]
    assert isinstance(skills, dict)
    gaps = rank_gaps(required, skills)
    c.scratch["gaps"] = [g.as_dict() for g in gaps]
    return json.dumps({"target_role": profile["target_role"], "gaps": c.scratch["gaps"]})

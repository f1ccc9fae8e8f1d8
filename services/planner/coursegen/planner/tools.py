"""The planner's tools: read the employee and compute the skill gaps."""

from __future__ import annotations

from agents import RunContextWrapper, function_tool

from coursegen.planner.gaps import RequiredSkill, rank_gaps
from coursegen.shared.errors import InvalidData
from coursegen.shared.events import CourseHandoff
from coursegen.shared.models import compact
from coursegen.shared.stage import StageContext
from coursegen.shared.store import Database, people, reviews
from coursegen.shared.store.runs import CourseRun


async def load_profile(db: Database, run: CourseRun) -> people.EmployeeProfile:
    """The run's employee, read from the run's own company."""
    async with db.connection() as conn:
        profile = await people.employee_profile(conn, run.company_id, run.employee_id)
    if profile is None:
        raise InvalidData(f"employee {run.employee_id} is not in the course run's company")
    if profile.plan_role_id is None:
        raise InvalidData(f"employee {run.employee_id} has neither a role nor a target role")
    return profile


def public_profile(profile: people.EmployeeProfile) -> dict[str, object]:
    """What the plan keeps of the employee (and what the agent is shown)."""
    return profile.model_dump(
        mode="json", include={"name", "position", "department", "current_role", "target_role", "skills"}
    )


@function_tool(failure_error_function=None)
async def get_employee_profile(ctx: RunContextWrapper[StageContext[CourseHandoff]]) -> str:
    """The employee: name, position, current and target role."""
    profile = await load_profile(ctx.context.db, ctx.context.run)
    # Skill levels are left out: the gap analysis carries the ones the plan is about.
    return compact({k: v for k, v in public_profile(profile).items() if k != "skills"})


@function_tool(failure_error_function=None)
async def analyze_skill_gaps(ctx: RunContextWrapper[StageContext[CourseHandoff]]) -> str:
    """Skill gaps for the target role, most severe first."""
    c = ctx.context
    profile = await load_profile(c.db, c.run)
    assert profile.plan_role_id is not None
    async with c.db.connection() as conn:
        required = await people.role_skills(conn, c.run.company_id, profile.plan_role_id)
    gaps = rank_gaps([RequiredSkill(r.skill_name, r.required_level, r.importance) for r in required], profile.skills)
    return compact({"target_role": profile.target_role, "gaps": [g.as_dict() for g in gaps]})


@function_tool(failure_error_function=None)
async def get_reviewer_comments(ctx: RunContextWrapper[StageContext[CourseHandoff]]) -> str:
    """Why reviewers rejected earlier outlines of this course, oldest first (empty on a first plan)."""
    c = ctx.context
    async with c.db.connection() as conn:
        comments = await reviews.outline_comments(conn, c.run.session_id, c.handoff.round)
    return compact({"comments": comments})

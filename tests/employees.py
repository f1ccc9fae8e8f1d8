"""Employees of the demo roles with known gaps, for tests that need a particular course shape."""

from __future__ import annotations

from coursegen.stack.seed import DemoEmployee

ONE_MODULE = DemoEmployee(
    "Lena Park",
    "lena.park@example.com",
    "Engineering",
    "Software Engineer",
    None,
    {"Python": 3, "Testing": 3, "Code Review": 3, "Git": 3, "SQL": 1},
)
"""One gap (SQL, one level short of the Software Engineer's 2): a one-module course."""

NO_GAPS = DemoEmployee(
    "Ada Byrne",
    "ada.byrne@example.com",
    "Engineering",
    "Software Engineer",
    None,
    # Names in another case than the role's: still the same skills.
    {"python": 4, "TESTING": 3, "Code Review": 3, "git": 3, "SQL": 2},
)
"""Meets every requirement of the Software Engineer role."""

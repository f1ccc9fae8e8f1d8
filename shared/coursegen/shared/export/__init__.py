"""Exporting a course to where learners are: SCORM 1.2 and 2004 packages, a QTI item bank, one HTML file.

Every format renders the course through ``coursegen.shared.courseview``, so a course looks the same in the
app, the standalone player and an LMS. ``export_course(view, "scorm12")`` returns the bytes and a file name.
"""

from coursegen.shared.export.formats import (
    FORMATS,
    Export,
    UnknownFormatError,
    export_course,
)

__all__ = ["FORMATS", "Export", "UnknownFormatError", "export_course"]

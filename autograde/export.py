"""Grades for an LMS, through nbgrader's exporter plugin mechanism: ``make export`` (or ``nbgrader export``).

Writes into ``autograde/export/`` (or the folder given with ``--to``):

- ``grades_by_question.csv``: a row per student and assignment submitted, a column per grade cell
  (``<assignment>/<notebook>:<grade id>``, blank where the cell belongs to another assignment or is not graded
  yet), then the autograded points, the manual points, extra credit, the late penalty, the total
  (``autograded + manual + extra_credit - late_penalty``, at least 0, as nbgrader's own CSV export), the maximum,
  whether a written answer still waits for its grade, and the grader's flags;
- ``canvas_<assignment>.csv`` per assignment, in the layout Canvas's gradebook import reads
  (``Student, ID, SIS User ID, SIS Login ID, Section`` and the assignment's column, a ``Points Possible``
  row first; ``ID`` is the roster's ``lms_user_id``); every student of the gradebook has a row, its score
  blank (not 0) while nothing graded is in the gradebook or a written answer waits for its grade.
"""

from __future__ import annotations

import csv
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin

from .course import folders
from .grade import read_flags

"""Where the export goes by default, relative to the course root."""

CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
"""The leading columns of Canvas's gradebook CSV, before one column per assignment."""


def _points(value) -> str:
    """A score as the CSV shows it: blank when missing, else without a trailing ``.0``."""
    return "" if value is None else f"{value:g}"


def question_rows(gb: Gradebook, root: Path, students=(), assignments=()) -> tuple[list[str], list[dict]]:
    """The header and the rows of ``grades_by_question.csv``, one per submission in the gradebook."""
    questions, rows = [], []
    for assignment in gb.assignments:
        if assignments and assignment.name not in assignments:
            continue
        for notebook in assignment.notebooks:
            questions += [f"{assignment.name}/{notebook.name}:{cell.name}" for cell in notebook.grade_cells]
        for student in gb.students:
            if students and student.id not in students:
                continue
            try:
                sub = gb.find_submission(assignment.name, student.id)
            except MissingEntry:
                continue
            row = {"student_id": student.id, "assignment": assignment.name}
            auto = manual = extra = 0.0
            for nb in sub.notebooks:
                for grade in nb.grades:
                    row[f"{assignment.name}/{nb.name}:{grade.name}"] = _points(
                        grade.score if not grade.needs_manual_grade else None)
                    manual += grade.manual_score or 0.0
                    auto += (grade.auto_score or 0.0) if grade.manual_score is None else 0.0
                    extra += grade.extra_credit or 0.0
            penalty = sub.late_submission_penalty or 0.0
            row.update(autograded=_points(auto), manual=_points(manual), extra_credit=_points(extra),
                       late_penalty=_points(penalty), total=_points(max(0.0, sub.score - penalty)),
                       max_score=_points(sub.max_score), needs_manual_grade=bool(sub.needs_manual_grade),
                       flags="; ".join(read_flags(root, student.id, assignment.name)))
            rows.append(row)
    header = ["student_id", "assignment", *questions, "autograded", "manual", "extra_credit", "late_penalty", "total",
              "max_score", "needs_manual_grade", "flags"]
    return header, rows


def canvas_rows(gb: Gradebook, assignment) -> list[list[str]]:
    """Canvas's gradebook import for one assignment: header, ``Points Possible``, a row per student."""
    rows = [[*CANVAS_COLUMNS, assignment.name], ["Points Possible", "", "", "", "", _points(assignment.max_score)]]
    for student in gb.students:
        try:
            sub = gb.find_submission(assignment.name, student.id)
            score = None if sub.needs_manual_grade else max(0.0, sub.score - (sub.late_submission_penalty or 0.0))
        except MissingEntry:
            score = None
        name = ", ".join(n for n in (student.last_name, student.first_name) if n) or student.id
        rows.append([name, student.lms_user_id or "", student.id, student.email or "", "", _points(score)])
    return rows


class ByQuestionExport(ExportPlugin):
    """nbgrader exporter: grades per question and per assignment for Canvas (see the module docstring)."""

    def export(self, gradebook: Gradebook) -> None:
        """Write the by-question table and one Canvas CSV per assignment."""
        root = Path(self.parent.coursedir.root) if self.parent is not None else Path.cwd()
        dest = Path(self.to) if self.to else folders(root).export
        dest.mkdir(parents=True, exist_ok=True)
        students, assignments = [str(s) for s in self.student], [str(a) for a in self.assignment]
        header, rows = question_rows(gradebook, root, students, assignments)
        with open(dest / "grades_by_question.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header, restval="")
            writer.writeheader()
            writer.writerows(rows)
        for assignment in gradebook.assignments:
            if not assignments or assignment.name in assignments:
                with open(dest / f"canvas_{assignment.name}.csv", "w", newline="") as f:
                    csv.writer(f).writerows(canvas_rows(gradebook, assignment))
        self.log.info("Exported %d submission(s) to %s", len(rows), dest)
        print(f"exported {len(rows)} submission(s) to {dest}/ (grades_by_question.csv, canvas_<assignment>.csv)")

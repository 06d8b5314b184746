"""nbgrader configuration of the course; paths are relative to the folder holding this file."""

import os

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

ROOT = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "dl-training-theory"
c.CourseDirectory.root = ROOT
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = os.path.join("autograde", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("autograde", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("autograde", "feedback")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(ROOT, "autograde", "gradebook.db")
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]

# What replaces a solution in the student version.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Executing submissions: one kernel, the course's python3, whatever the notebook says;
# a cell that runs longer than this many seconds is interrupted and counts as failed.
c.Execute.timeout = 60
c.Execute.kernel_name = "python3"
c.Execute.interrupt_on_timeout = True
c.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]  # kernel start-up chatter off; cell errors still show

# A grade cell deleted by the student is put back from the gradebook.
c.OverwriteCells.add_missing_cells = True

# Outputs kept in the autograded copy are capped so one chatty cell cannot bloat feedback.
c.LimitOutput.max_lines = 500
c.LimitOutput.max_traceback = 100

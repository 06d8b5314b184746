"""nbgrader configuration of the course; paths are relative to the folder holding this file."""

import os

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

ROOT = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "dl-training-theory"
c.CourseDirectory.root = ROOT
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
# The grading workspace: submissions, graded copies, feedback, the gradebook, and what the course's tools make
# of them (grades.csv, export/, handback/; autograde.course.folders reads every folder from here).
WORKSPACE = "autograde"
c.CourseDirectory.submitted_directory = os.path.join(WORKSPACE, "submitted")
c.CourseDirectory.autograded_directory = os.path.join(WORKSPACE, "autograded")
c.CourseDirectory.feedback_directory = os.path.join(WORKSPACE, "feedback")
# timeout: parallel graders (JOBS=2) wait for each other's short writes instead of failing.
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(ROOT, WORKSPACE, "gradebook.db") + "?timeout=60"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]

# What replaces a solution in the student version.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Executing submissions: one kernel, the course's python3, whatever the notebook says;
# a cell that runs longer than this many seconds is interrupted and counts as failed.
c.Execute.timeout = int(os.environ.get("AUTOGRADE_CELL_TIMEOUT", "60"))
c.Execute.kernel_name = "python3"
c.Execute.interrupt_on_timeout = True
# After a cell's reply, its last outputs may lag on a loaded laptop: wait for them (nbclient's default is 4 s,
# after which Validate reports an error although the cell ran).
c.Execute.iopub_timeout = 30
c.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]  # kernel start-up chatter off; cell errors still show

# A grade cell deleted by the student is put back from the gradebook.
c.OverwriteCells.add_missing_cells = True

# Outputs kept in the autograded copy are capped so one chatty cell cannot bloat feedback.
c.LimitOutput.max_lines = 500
c.LimitOutput.max_traceback = 100

# Hardened grading (autograde/hardening.py, autograde/judge.py, autograde/sandbox.py): a sandboxed,
# memory-limited kernel without the variables that reveal grading and without the withheld packages,
# test cells judged in the grader's process, a time limit for the whole notebook, an output cap,
# recovery from a dead kernel, copied grade cells neutralised, flags recorded for grades.csv, and
# feedback without hidden tests.
from autograde import pipelines  # noqa: E402
from autograde.hardening import FLAGS_KEY  # noqa: E402

pipelines.configure(c)  # nbgrader's own pipelines, with the course's preprocessors put in (autograde/pipelines.py)
c.ClearMetadataPreprocessor.preserve_nb_metadata_mask = {("language_info", "name"), (FLAGS_KEY,)}
c.HardenedExecute.notebook_timeout = int(os.environ.get("AUTOGRADE_NOTEBOOK_TIMEOUT", "600"))  # whole notebook, s
c.HardenedExecute.max_output_bytes = 1_000_000
c.HardenedExecute.memory_limit_mb = 4096
c.HardenedExecute.sandbox = os.environ.get("AUTOGRADE_SANDBOX", "bwrap")  # 'none' only where bwrap cannot run
# Cells tagged 'experiment' (figures, sweeps; no points) are not re-executed at grading time: the
# student's own outputs are kept for manual grading. Set True to re-run them.
c.HardenedExecute.run_experiments = False

# `nbgrader export` (make export): grades per question, and one CSV per assignment for Canvas's gradebook
# import, written into autograde/export/ (autograde/export.py).
from autograde.export import ByQuestionExport  # noqa: E402

c.ExportApp.plugin_class = ByQuestionExport

# `nbgrader zip_collect` (make collect): LMS downloads (Canvas, Moodle) filed into autograde/submitted/
# through autograde/downloaded/<assignment>/ (autograde/collect.py).
from autograde.collect import KeepTimesExtractor, LmsCollector  # noqa: E402

c.ZipCollectApp.downloaded_directory = os.path.join(WORKSPACE, "downloaded")
c.ZipCollectApp.extractor_plugin = KeepTimesExtractor
c.ZipCollectApp.collector_plugin = LmsCollector

"""Execute every source notebook into ``notebooks/<assignment>/``, the nbval baseline: ``make notebooks``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from . import assignments, course_root

TIMEOUT = 600  # seconds per cell


def execute(src: Path, dest: Path | None = None) -> tuple[nbformat.NotebookNode, float]:
    """Run a notebook top to bottom in its own folder; write it to ``dest`` if given; return it and the seconds."""
    nb = nbformat.read(str(src), as_version=4)
    client = NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3", record_timing=False,
                            extra_arguments=["--IPKernelApp.log_level=ERROR"],
                            resources={"metadata": {"path": str(src.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    if dest is not None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(dest))
    return nb, seconds


def main(argv=None) -> None:
    """Execute all source notebooks (or those of the named assignments)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("assignment", nargs="*", help="assignments to execute (default: all)")
    args = parser.parse_args(argv)
    root = course_root()
    for assignment in args.assignment or assignments(root):
        for src in sorted((root / "source" / assignment).glob("*.ipynb")):
            dest = root / "notebooks" / assignment / src.name
            _, seconds = execute(src, dest)
            print(f"executed {src.relative_to(root)} -> {dest.relative_to(root)} in {seconds:.1f} s")


if __name__ == "__main__":
    main()

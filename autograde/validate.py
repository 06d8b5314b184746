"""Validate notebooks like nbgrader's Validate button, but exit non-zero when one fails: ``make validate NB=…``.

``nbgrader validate`` prints its verdict and exits 0 either way; this command prints the same
verdict and exits 1 when any notebook fails a test, changed a locked cell or changed a cell type,
so that scripts and CI can rely on it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import course_root
from .course import load_config


def validate(path: Path) -> bool:
    """Print nbgrader's verdict on one notebook; True when it passes."""
    from nbgrader.validator import Validator

    class Recording(Validator):
        """nbgrader's Validator, keeping the results it prints."""

        results: dict = {}

        def validate(self, filename):
            """Validate as nbgrader does, and keep the results."""
            self.results = super().validate(filename)
            return self.results

    validator = Recording(config=load_config(course_root()))
    validator.stream = sys.stdout
    print(f"== {path}")
    validator.validate_and_print(str(path))
    return not any(validator.results.get(key) for key in ("type_changed", "changed", "failed"))


def main(argv=None) -> int:
    """Validate every notebook given; exit 1 if any fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    missing = [p for p in args.notebooks if not p.is_file()]
    for p in missing:
        print(f"error: {p} is not a file", file=sys.stderr)
    results = [validate(p.resolve()) for p in args.notebooks if p.is_file()]
    return 0 if results and all(results) and not missing else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Checks the import grouping of SPEC §14 in every .rs file under src/, tests/, benches/.

Within each run of `use` statements (at any indentation, until other code), statements
separated by blank lines form groups. Each group must hold one kind, and the kinds must
come in this order, each at most once: std/core/alloc, external crates, this crate
(crate::, super::, self::). As in rustfmt's StdExternalCrate, `coderlite::` in the binary,
tests and benches is an external crate. Prints file:line: message
for every problem and exits 1 if there is one.

Fix automatically with nightly rustfmt:
    cargo +nightly fmt -- --config group_imports=StdExternalCrate
"""

import pathlib
import re
import sys

USE_RE = re.compile(r"^(\s*)(?:pub(?:\([^)]*\))?\s+)?use\s+(::)?([A-Za-z_][A-Za-z0-9_]*)")
KIND_NAMES = {0: "std", 1: "external", 2: "crate"}


def kind_of(root: str) -> int:
    if root in ("std", "core", "alloc"):
        return 0
    if root in ("crate", "super", "self"):
        return 2
    return 1


def statements(lines):
    """Yields (line_no, indent, root, is_blank, is_use) per logical statement/line."""
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        m = USE_RE.match(line)
        if m:
            start = i
            while ";" not in lines[i] and i + 1 < len(lines):
                i += 1
            yield start + 1, len(m.group(1)), m.group(3), False, True
        elif stripped == "":
            yield i + 1, None, None, True, False
        elif stripped.startswith("#[") or stripped.startswith("//"):
            # Attributes and comments neither end nor split a group.
            yield i + 1, None, None, False, None
        else:
            yield i + 1, None, None, False, False
        i += 1


def check(root: pathlib.Path, path: pathlib.Path):
    problems = []
    lines = (root / path).read_text().splitlines()
    groups = []  # list of (first_line, kind) for the current run of uses
    current = None  # (first_line, kind) of the current group
    blank_since_use = False

    def close_run():
        nonlocal groups, current
        if current is not None:
            groups.append(current)
        last = -1
        seen = set()
        for first_line, kind in groups:
            if kind in seen:
                problems.append(f"{path}:{first_line}: second {KIND_NAMES[kind]} import group (merge them)")
            elif kind < last:
                problems.append(
                    f"{path}:{first_line}: {KIND_NAMES[kind]} imports after {KIND_NAMES[last]} imports "
                    "(order: std, external, crate)"
                )
            seen.add(kind)
            last = max(last, kind)
        groups = []
        current = None

    for line_no, _indent, root, is_blank, is_use in statements(lines):
        if is_use:
            kind = kind_of(root)
            if current is None:
                current = (line_no, kind)
            elif blank_since_use:
                groups.append(current)
                current = (line_no, kind)
            elif kind != current[1]:
                problems.append(
                    f"{path}:{line_no}: {KIND_NAMES[kind]} import in a {KIND_NAMES[current[1]]} group "
                    "(separate groups with a blank line)"
                )
            blank_since_use = False
        elif is_blank:
            if current is not None:
                blank_since_use = True
        elif is_use is None:
            continue
        else:
            close_run()
            blank_since_use = False
    close_run()
    return problems


def main() -> int:
    root = pathlib.Path(__file__).resolve().parent.parent
    problems = []
    for folder in ("src", "tests", "benches", "examples"):
        for path in sorted((root / folder).rglob("*.rs")):
            problems += check(root, path.relative_to(root))
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} import grouping problem(s); see scripts/check-import-groups.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

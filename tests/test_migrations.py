"""The Alembic history is one line, and its files are named in its order.

Migrations are named `YYYY-MM-DD_HHMM_<slug>.py` (docs/ARCHITECTURE.md): listing the folder
must show them in the order they run, so a reader (or a merge that re-chains a new one) sees
the history as it is.
"""

from __future__ import annotations

import itertools
import re
from importlib.resources import files
from pathlib import Path

from alembic.script import Script, ScriptDirectory

MIGRATIONS = Path(str(files("leadgate") / "migrations"))
NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})_(\d{2})(\d{2})_[a-z0-9_]+\.py$")


def chain() -> list[Script]:
    """The revisions from base to head, each followed by its only child."""
    scripts = ScriptDirectory(str(MIGRATIONS))
    heads, bases = scripts.get_heads(), scripts.get_bases()
    assert len(heads) == 1, f"more than one head: {heads}"
    assert len(bases) == 1, f"more than one base: {bases}"
    ordered: list[Script] = []
    revision = scripts.get_revision(bases[0])
    while revision is not None:
        assert isinstance(revision.down_revision, str | None), f"{revision.revision} is a merge"
        assert not revision.dependencies, f"{revision.revision} depends on another branch"
        ordered.append(revision)
        children = sorted(revision.nextrev)
        if revision.revision == heads[0]:
            assert children == []
            break
        assert len(children) == 1, f"{revision.revision} has children {children}"
        revision = scripts.get_revision(children[0])
    every = list(scripts.walk_revisions())
    assert len(ordered) == len(every), "revisions outside the chain from base to head"
    return ordered


def test_the_history_is_one_line_from_base_to_head() -> None:
    ordered = chain()
    assert ordered[0].down_revision is None
    for parent, child in itertools.pairwise(ordered):
        assert child.down_revision == parent.revision


def test_file_names_sort_in_the_order_migrations_run() -> None:
    ordered = chain()
    files_in_order = sorted(p.name for p in (MIGRATIONS / "versions").glob("*.py"))
    files_in_order.remove("__init__.py")
    assert files_in_order == [Path(script.path).name for script in ordered]
    stamps = []
    for name in files_in_order:
        match = NAME.match(name)
        assert match, f"{name} is not YYYY-MM-DD_HHMM_<slug>.py"
        stamps.append("".join(match.groups()))
    # Strictly increasing: with two files in one minute the order would rest on their slugs.
    assert stamps == sorted(set(stamps))


def test_each_header_agrees_with_its_revision_and_file_name() -> None:
    for script in chain():
        text = Path(script.path).read_text()
        match = NAME.match(Path(script.path).name)
        assert match is not None
        day, hour, minute = match.groups()
        assert f"\nRevision ID: {script.revision}\n" in text
        assert f"\nRevises: {script.down_revision or ''}".rstrip() + "\n" in text
        assert f"\nCreate Date: {day} {hour}:{minute}" in text

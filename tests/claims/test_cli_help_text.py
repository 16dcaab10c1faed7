"""Every command's ``--help`` shows its whole docstring: Typer renders help as Rich markup, where
``[web]`` or ``[[evidence.witnesses]]`` is a tag and silently disappears ("needs claimwright").

The Typer app is walked, so a new command is covered the day it is added.
"""

from __future__ import annotations

import inspect
import re

import pytest
import typer.main
from typer.testing import CliRunner

from claims.cli import app

BRACKETED = re.compile(r"\[[^\]\s]+\]")


def _commands(group: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path] if path else []
    for name, sub in sorted((getattr(group, "commands", None) or {}).items()):
        found += _commands(sub, path + (name,))
    return found


ROOT = typer.main.get_command(app)
COMMANDS = _commands(ROOT)


def _command(path: tuple[str, ...]) -> object:
    cmd: object = ROOT
    for name in path:
        cmd = cmd.commands[name]  # type: ignore[attr-defined]
    return cmd


def _flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def test_the_walk_finds_the_commands() -> None:
    names = {" ".join(p) for p in COMMANDS}
    assert {"serve", "claim submit", "evidence witness vkey"} <= names


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_bracketed_words_of_the_help_are_shown(path: tuple[str, ...]) -> None:
    cmd = _command(path)
    callback = getattr(cmd, "callback", None)
    doc = inspect.getdoc(callback) if callback is not None else None
    doc = doc or getattr(cmd, "help", None) or ""
    wanted = [w.replace("\\[", "[") for w in BRACKETED.findall(doc.replace("\\[", "["))]
    if not wanted:
        return
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    shown = _flat(result.output)
    missing = [w for w in wanted if w not in shown]
    assert not missing, f"claims {' '.join(path)} --help drops {missing}"

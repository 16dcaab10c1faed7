"""Every ``--option`` the README names for a ``claims`` command is in that command's ``--help``.

A newcomer follows the README literally; an option it names that the command does not have is
a usage error (exit 2) at the first try. The README is read conservatively, where it says
which command an option belongs to:

- command lines of its code blocks (``claims <group> <command> … --option``, with the
  ``\\``-continued and indented ``[--option]`` lines below them; ``a | b`` alternatives and
  ``reject|revoke`` names of one group each get their own options);
- an inline span holding a command and its options (```plan list --customer C```);
- a sentence saying which commands take an option (```claim validate`` and ```claim
  build`` take ```--as-of DATE```), or a paragraph ``Options for … (`cmd` and `cmd`): …``.

The deprecated spellings the README names as such (hidden from ``--help``) are left out.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import typer
from typer.testing import CliRunner

from claims.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
SPAN = re.compile(r"`([^`]+)`")
ROOT = typer.main.get_command(app)


def command_path(words: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """The longest run of ``words`` naming a command (group, subcommand, …) and the rest."""
    node, path = ROOT, []
    for word in words:
        commands = getattr(node, "commands", None)  # a group (typer's own click)
        if not commands or word not in commands:
            break
        node, path = node.commands[word], [*path, word]
    return tuple(path), words[len(path):]


@cache
def help_options(path: tuple[str, ...]) -> frozenset[str]:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, (path, result.output)
    return frozenset(OPTION.findall(result.stdout))


def _code_commands(text: str) -> list[tuple[tuple[str, ...], list[str], str]]:
    """(command path, options, the README line) of each command line of the code blocks."""
    out: list[tuple[tuple[str, ...], list[str], str]] = []
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M):
        lines: list[str] = []
        for raw in block.splitlines():
            line = re.split(r"\s#\s|\s#$", raw)[0].rstrip()  # a comment ends it
            if lines and lines[-1].endswith("\\"):
                lines[-1] = lines[-1][:-1] + " " + line.strip()
            elif lines and re.match(r"\s+\[?--", line):  # an indented option line
                lines[-1] += " " + line.strip()
            else:
                lines.append(line)
        for line in lines:
            words = line.split()
            if words[:1] != ["claims"]:
                continue
            out.extend(_alternatives(words[1:], line))
    return out


def _alternatives(words: list[str], line: str) -> list[tuple[tuple[str, ...], list[str], str]]:
    """``claims promise list | cancel ID --reason WHY``: each alternative (a `` | `` outside
    brackets) with its options; ``escalation reject|revoke``, ``import csv|xlsx``: each name
    with the same options."""
    segments, depth, current = [], 0, []
    for word in words:
        if word == "|" and depth == 0:
            segments.append(current)
            current = []
            continue
        depth += word.count("(") + word.count("[") - word.count(")") - word.count("]")
        current.append(word)
    segments.append(current)
    out = []
    for n, segment in enumerate(segments):
        head = segment if n == 0 else [*segments[0][:1], *segment]  # the same group
        for path, tail in _spelled(head):
            if path:
                out.append((path, OPTION.findall(" ".join(tail)), line))
    return out


def _spelled(words: list[str]) -> list[tuple[tuple[str, ...], list[str]]]:
    """:func:`command_path` of ``words`` once per name of an ``a|b`` word naming commands."""
    path, tail = command_path(words)
    if tail and "|" in tail[0] and not tail[0].startswith("-"):
        done = len(path)
        return [found for name in tail[0].split("|")
                for found in _spelled([*words[:done], name, *tail[1:]])
                if len(found[0]) > done]
    return [(path, tail)]


def _sentences(text: str) -> list[str]:
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", prose)]


def _prose_commands(text: str) -> list[tuple[tuple[str, ...], list[str], str]]:
    out: list[tuple[tuple[str, ...], list[str], str]] = []
    for para in _sentences(text):
        for sentence in re.split(r"(?<=\.)\s+(?=[A-Z`(])", para):
            if re.search(r"deprecat|earlier spelling", sentence, flags=re.I):
                continue
            for span in SPAN.findall(sentence):  # a span with a command and its options
                words = span.split()
                words = words[1:] if words[:1] == ["claims"] else words
                path, tail = command_path(words)
                if len(path) >= 2 and OPTION.search(" ".join(tail)):
                    out.append((path, OPTION.findall(" ".join(tail)), sentence))
            out.extend(_taking(sentence))
    return out


def _taking(sentence: str) -> list[tuple[tuple[str, ...], list[str], str]]:
    """```a`` and ``b`` take ``--x``` and ``Options for … (`a` and `b`): ``--x`` …``."""
    out = []
    patterns = (r"((?:`[^`]+`(?:,\s*|\s+and\s+|\s+or\s+)?)+)\s+(?:also\s+)?takes?\b(.*)",
                r"^Options for [^(]*\(((?:`[^`]+`[^)]*)+)\):(.*)")
    for pattern in patterns:
        for match in re.finditer(pattern, sentence):
            commands = [command_path(s.split()) for s in SPAN.findall(match.group(1))]
            options = [o for s in SPAN.findall(match.group(2)) for o in OPTION.findall(s)]
            for path, tail in commands:
                if len(path) >= 2 and not tail and options:
                    out.append((path, options, sentence))
    return out


def test_the_reader_finds_the_commands_the_readme_names() -> None:
    """The parsing itself: it sees the walkthrough's commands and the prose about options."""
    text = README.read_text()
    seen = {path for path, _, _ in _code_commands(text)}
    assert {("claim", "build"), ("claim", "new"), ("note", "add"), ("promise", "cancel"),
            ("escalation", "revoke"), ("invoice", "import", "csv")} <= seen
    # a paragraph of options says which commands take them (else a reader guesses)
    for para in _sentences(text):
        if para.startswith("Options for"):
            assert _taking(para), f"name the commands these options are for: {para[:80]}"
    prose = {(path, o) for path, options, _ in _prose_commands(text) for o in options}
    assert {(("claim", "validate"), "--as-of"), (("claim", "new"), "--expiry"),
            (("claim", "correct"), "--issued"), (("plan", "list"), "--customer")} <= prose


def test_every_option_the_readme_names_is_in_its_commands_help() -> None:
    text = README.read_text()
    wrong = sorted({f"claims {' '.join(path)} has no {option} (README: {where.strip()[:90]})"
                    for path, options, where in _code_commands(text) + _prose_commands(text)
                    for option in options if option not in help_options(path)})
    assert not wrong, "\n".join(wrong)


def test_the_documents_paragraph_names_as_of_where_it_exists() -> None:
    """``--as-of`` is an option of ``claim validate`` and ``claim build``, not ``claim new``
    (the README said ``claim new`` took it: exit 2 for a newcomer)."""
    assert "--as-of" not in help_options(("claim", "new"))
    assert {"--as-of"} <= help_options(("claim", "validate")) & help_options(("claim", "build"))

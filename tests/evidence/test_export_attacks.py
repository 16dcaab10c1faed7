"""An auditor's attacks on a real export: each must make verification FAIL, through the bag's own
``verify.py`` (its own Python process, outside the repository) and through ``claims evidence
verify-export``, with one clear line naming the file and what is wrong, and no traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence import Checkpoint, EvidenceArchive
from evidence.canonical import canonical_json
from evidence.keys import load_private_key, public_pem

from .tampering import recompute_manifests, recompute_tags

CHECKPOINTS = "data/ledger/checkpoints.json"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Bags do not depend on the database: these attacks run on SQLite only."""
    return f"sqlite:///{tmp_path / 'claims.db'}"


@dataclass
class Export:
    """A real export (of CLM-1, three checkpoints before its own), the auditor's copy of the
    verifier it carries and the public key the auditor was given."""

    bag: Path
    script: Path
    key: Path


@pytest.fixture
def export(archive: EvidenceArchive, history: Callable[[], None], tmp_path: Path) -> Export:
    history()
    bag = archive.export(tmp_path / "audit", claim="CLM-1", actor="auditor-request")
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    (auditor / "signing.pub").write_bytes(archive.public_key_pem())
    shutil.copy(bag / "verify.py", auditor / "verify.py")
    return Export(bag, auditor / "verify.py", auditor / "signing.pub")


def verify_py(ex: Export, *args: str, timeout: float = 120) -> tuple[int, str]:
    """``python3 verify.py BAG ...`` as an auditor runs it: nothing of Claimwright importable."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-I", str(ex.script), str(ex.bag), *args],
                          capture_output=True, text=True, cwd=ex.script.parent, env=env,
                          timeout=timeout)
    return done.returncode, done.stdout + done.stderr


def both_fail(ex: Export, cli: Callable[..., object], where: str, *words: str,
              args: tuple[str, ...] = ()) -> None:
    """Both verifiers exit 1 with a PROBLEM line naming ``where`` and holding ``words``."""
    args = args or ("--trusted-key", str(ex.key))
    code, out = verify_py(ex, *args)
    result = cli("evidence", "verify-export", str(ex.bag), *args, workspace=None)
    for name, status, text in (("verify.py", code, out),
                               ("verify-export", result.exit_code,  # type: ignore[attr-defined]
                                result.output)):  # type: ignore[attr-defined]
        assert status == 1 and "Traceback" not in text, f"{name}: {text}"
        lines = [line for line in text.splitlines()
                 if "PROBLEM" in line and where in line and all(w in line for w in words)]
        assert lines, f"{name} has no problem naming {where} {words}: {text}"


def _history(ex: Export) -> dict:
    return json.loads((ex.bag / CHECKPOINTS).read_text())


def _rewrite_history(ex: Export, items: list) -> None:
    (ex.bag / CHECKPOINTS).write_bytes(canonical_json({"checkpoints": items}) + b"\n")
    recompute_manifests(ex.bag)


def test_an_untouched_export_verifies_with_its_earlier_checkpoints(export: Export, cli) -> None:
    code, out = verify_py(export, "--trusted-key", str(export.key))
    assert code == 0, out
    assert len(_history(export)["checkpoints"]) == 3
    statement = json.loads((export.bag / "data/ledger/export.json").read_text())
    assert [size for size, _ in statement["checkpoints"]] == [3, 7, 9]


@pytest.mark.parametrize("attack", ["duplicated", "reversed", "emptied", "one dropped",
                                    "exported one added", "copy added"])
def test_an_edited_checkpoint_history_fails(export: Export, cli, attack: str) -> None:
    items = _history(export)["checkpoints"]
    current = json.loads((export.bag / "data/ledger/checkpoint.json").read_text())
    edited = {"duplicated": items + items, "reversed": items[::-1], "emptied": [],
              "one dropped": items[1:],
              "exported one added": items + [{"note": current["note"], "consistency_proof": []}],
              "copy added": items[:1] + items}[attack]
    _rewrite_history(export, edited)
    both_fail(export, cli, CHECKPOINTS, "checkpoint-history")


def test_a_v2_export_names_no_checkpoints_but_its_history_must_still_be_in_order(
        export: Export, archive: EvidenceArchive, cli) -> None:
    path = export.bag / "data/ledger/export.json"
    statement = json.loads(path.read_text())
    del statement["signature"], statement["checkpoints"]
    statement["type"] = "claimwright-evidence-export/v2"
    signature = load_private_key(archive.evidence_dir).sign(canonical_json(statement))
    path.write_bytes(canonical_json({**statement, "signature": signature.hex()}) + b"\n")
    recompute_manifests(export.bag)
    assert verify_py(export, "--trusted-key", str(export.key))[0] == 0
    _rewrite_history(export, _history(export)["checkpoints"][::-1])
    both_fail(export, cli, CHECKPOINTS, "checkpoint-history", "not strictly increasing")


# --- 2. strict types, no unknown fields, bag-info.txt covered ------------------------------------

CHECKPOINT = "data/ledger/checkpoint.json"


@pytest.mark.parametrize("field,value", [
    ("signature", "00" * 64), ("key_id", "ab" * 32), ("time", "2020-01-01T00:00:00Z"),
    ("type", "claimwright-evidence-checkpoint/v1"), ("origin", "claimwright.evidence/x")])
def test_an_edited_checkpoint_field_beside_the_note_fails(export: Export, cli, field: str,
                                                          value: str) -> None:
    path = export.bag / CHECKPOINT
    data = json.loads(path.read_text())
    data[field] = value
    path.write_bytes(canonical_json(data))
    recompute_manifests(export.bag)
    both_fail(export, cli, f"{CHECKPOINT} field {field}", "checkpoint-fields", "signed note")


@pytest.mark.parametrize("value", [True, 4.0, "4"])
def test_a_checkpoint_size_not_an_integer_fails(export: Export, cli, value: object) -> None:
    path = export.bag / CHECKPOINT
    data = json.loads(path.read_text())
    data["tree_size"] = value
    path.write_text(json.dumps(data))
    recompute_manifests(export.bag)
    both_fail(export, cli, CHECKPOINT, "checkpoint-unreadable", "tree_size")


@pytest.mark.parametrize("rel", [CHECKPOINT, CHECKPOINTS, "data/ledger/entries.jsonl"])
def test_an_unknown_field_fails(export: Export, cli, rel: str) -> None:
    path = export.bag / rel
    if rel == CHECKPOINTS:
        data = _history(export)
        data["checkpoints"][0]["comment"] = "looks fine"
        path.write_text(json.dumps(data))
    else:
        lines = path.read_text().splitlines()
        first = json.loads(lines[0])
        first["comment"] = "looks fine"
        path.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    recompute_manifests(export.bag)
    both_fail(export, cli, rel, "unknown field 'comment'")


@pytest.mark.parametrize("index", ["bool", "float"])
def test_an_entry_index_given_as_true_or_a_float_fails(export: Export, cli, index: str) -> None:
    path = export.bag / "data/ledger/entries.jsonl"
    items = [json.loads(line) for line in path.read_text().splitlines()]
    n = next(n for n, i in enumerate(items) if i["index"] in (0, 1))
    items[n]["index"] = bool(items[n]["index"]) if index == "bool" else float(items[n]["index"])
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    recompute_manifests(export.bag)
    both_fail(export, cli, f"data/ledger/entries.jsonl line {n + 1}", "entry-unreadable",
              "not a non-negative integer")


def test_an_unknown_statement_field_fails(export: Export, cli) -> None:
    path = export.bag / "data/ledger/export.json"
    data = json.loads(path.read_text())
    data["note"] = "approved by the auditor"
    path.write_bytes(canonical_json(data))
    recompute_manifests(export.bag)
    both_fail(export, cli, "data/ledger/export.json", "export-unreadable", "unknown field")


@pytest.mark.parametrize("edit", ["description", "identifier", "date", "added line"])
def test_an_edited_bag_info_fails_even_with_manifests_recomputed(export: Export, cli,
                                                                 edit: str) -> None:
    path = export.bag / "bag-info.txt"
    text = path.read_text()
    text = {"description": text.replace("claim CLM-1", "claim CLM-2"),
            "identifier": text.replace("External-Identifier: checkpoint ",
                                       "External-Identifier: checkpoint 1"),
            "date": text.replace("Bagging-Date: 2026", "Bagging-Date: 2025"),
            "added line": text + "Contact-Name: Mallory\n"}[edit]
    path.write_text(text)
    recompute_manifests(export.bag)
    both_fail(export, cli, "bag-info.txt", "bag-info")


def test_an_emptied_tag_manifest_leaves_bag_info_unprotected_and_fails(export: Export,
                                                                        cli) -> None:
    (export.bag / "tagmanifest-sha256.txt").write_text("")
    both_fail(export, cli, "bag-info.txt", "bag-file-unlisted", "tagmanifest-sha256.txt")


def test_a_tag_file_added_beside_the_bag_fails(export: Export, cli) -> None:
    (export.bag / "notes.txt").write_text("nothing to see")
    tags = export.bag / "tagmanifest-sha256.txt"
    tags.write_text(tags.read_text() + f"{'ab' * 32}  notes.txt\n")
    both_fail(export, cli, "notes.txt", "bag-file-unexpected")
    both_fail(export, cli, "tagmanifest-sha256.txt", "bag-manifest-syntax", "notes.txt")


# --- 3. hostile input: deep nesting, huge lines and files, FIFOs, symbolic links --------------

@pytest.mark.parametrize("rel", [CHECKPOINT, CHECKPOINTS, "data/ledger/export.json"])
def test_json_nested_100000_deep_fails_without_a_traceback(export: Export, cli, rel: str) -> None:
    (export.bag / rel).write_text("[" * 100_000)
    recompute_manifests(export.bag)
    both_fail(export, cli, rel, "nested too deeply")


def test_an_entry_line_nested_100000_deep_fails(export: Export, cli) -> None:
    path = export.bag / "data/ledger/entries.jsonl"
    path.write_text("[" * 100_000 + "\n" + path.read_text())
    recompute_manifests(export.bag)
    both_fail(export, cli, "data/ledger/entries.jsonl line 1", "entry-unreadable",
              "nested too deeply")


def test_a_huge_entry_line_is_not_read_whole(export: Export, cli) -> None:
    path = export.bag / "data/ledger/entries.jsonl"
    with path.open("ab") as f:
        f.write(b'{"leaf": "' + b"x" * (5 << 20) + b'"}\n')
    both_fail(export, cli, "data/ledger/entries.jsonl line", "entry-unreadable",
              "longer than 4,194,304 bytes")


def test_a_huge_checkpoint_file_is_not_read_whole(export: Export, cli) -> None:
    (export.bag / CHECKPOINT).write_bytes(b" " * (2 << 20) + b"{}")
    both_fail(export, cli, CHECKPOINT, "larger than 1,048,576 bytes")


def _unblock_later(fifo: Path) -> threading.Timer:
    """Should a verifier wait on ``fifo``, open its other end after a while so that the test
    fails on the time taken rather than hanging."""
    def unblock() -> None:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK) if fifo.exists() else None
        if fd is not None:
            os.close(fd)
    timer = threading.Timer(20, unblock)
    timer.start()
    return timer


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_as_checkpoint_json_is_refused_without_waiting(export: Export, cli) -> None:
    path = export.bag / CHECKPOINT
    path.unlink()
    os.mkfifo(path)
    timer = _unblock_later(path)
    started = time.monotonic()
    try:
        both_fail(export, cli, CHECKPOINT, "not a regular file")
    finally:
        timer.cancel()
    assert time.monotonic() - started < 15


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("option", ["--trusted-key", "--checkpoint"])
def test_a_fifo_given_as_an_option_is_refused_without_waiting(export: Export, cli, tmp_path: Path,
                                                             option: str) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    timer = _unblock_later(fifo)
    started = time.monotonic()
    try:
        code, out = verify_py(export, option, str(fifo), "--trust-bag-key", timeout=30)
        result = cli("evidence", "verify-export", str(export.bag), option, str(fifo),
                     "--trust-bag-key", workspace=None)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 15
    for text in (out, result.output):
        assert "Traceback" not in text and "not a regular file" in text and "pipe" in text, text
    # both exit 2 and name the option (docs/evidence-format.md: a FIFO is a bad argument);
    # the CLI gave 1 for a --checkpoint FIFO, without naming the option
    assert code == 2 and result.exit_code == 2, (out, result.output)
    assert option in result.output


def test_a_symlinked_blob_is_refused_even_with_the_same_content(export: Export, cli,
                                                                tmp_path: Path) -> None:
    blob = sorted((export.bag / "data/blobs").iterdir())[0]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(blob.read_bytes())
    blob.unlink()
    blob.symlink_to(elsewhere)
    both_fail(export, cli, f"data/blobs/{blob.name}", "bag-file-refused", "symbolic link")


def test_a_symlinked_folder_in_the_bag_is_refused(export: Export, cli, tmp_path: Path) -> None:
    blobs = export.bag / "data/blobs"
    shutil.move(blobs, tmp_path / "blobs")
    blobs.symlink_to(tmp_path / "blobs", target_is_directory=True)
    both_fail(export, cli, "data/blobs", "bag-file-refused", "symbolic link")


# --- 4. bad options: one clear line naming the option, exit 2 ---------------------------------

@pytest.mark.parametrize("option,value,words", [
    ("--witness-key", "garbage", "is not a witness verifier key"),
    ("--witness-key", "w+0011+AAAA", "is not a witness verifier key"),
    ("--trusted-key", "README", "not an Ed25519 public key"),
    ("--trusted-key", "CHECKPOINT", "not an Ed25519 public key"),
    ("--checkpoint", "README", "not a signed checkpoint")])
def test_a_bad_option_is_one_line_and_exit_2(export: Export, cli, option: str, value: str,
                                             words: str) -> None:
    value = {"CHECKPOINT": str(export.bag / CHECKPOINT),
             "README": str(export.bag / "data/README.txt")}.get(value, value)
    code, out = verify_py(export, option, value, "--trust-bag-key")
    result = cli("evidence", "verify-export", str(export.bag), option, value, "--trust-bag-key",
                 workspace=None)
    for status, text in ((code, out), (result.exit_code, result.output)):
        lines = text.strip().splitlines()
        assert status == 2 and len(lines) == 1, text
        assert option in lines[0] and words in lines[0] and "Traceback" not in text, text


@pytest.mark.parametrize("option", ["--trusted-key", "--checkpoint"])
@pytest.mark.parametrize("given", ["missing", "folder"])
def test_a_missing_or_folder_option_file_is_one_line_naming_it(export: Export, cli,
                                                               tmp_path: Path, option: str,
                                                               given: str) -> None:
    """Not Typer's multi-line usage box: one line naming the option and the file, exit 2."""
    value = str(tmp_path / "no-such.pub") if given == "missing" else str(tmp_path)
    code, out = verify_py(export, option, value, "--trust-bag-key")
    result = cli("evidence", "verify-export", str(export.bag), option, value, "--trust-bag-key",
                 workspace=None)
    for status, text in ((code, out), (result.exit_code, result.output)):
        lines = text.strip().splitlines()
        assert status == 2 and len(lines) == 1, text
        assert option in lines[0] and value in lines[0] and "Traceback" not in text, text


# --- 5. found by an independent auditor (aud32) ------------------------------------------------

@pytest.mark.parametrize("name", ["manifest-sha256.txt", "tagmanifest-sha256.txt"])
@pytest.mark.parametrize("second", ["same", "other hash"])
def test_a_file_listed_twice_in_a_manifest_fails(export: Export, cli, name: str,
                                                 second: str) -> None:
    """Two lines for one file: a reader keeping the first and one keeping the last disagree
    (the other hash may even be the file's earlier content), so a file is listed once."""
    path = export.bag / name
    lines = path.read_text().splitlines()
    digest, rel = lines[0].split("  ", 1)
    again = lines[0] if second == "same" else f"{'0' * 64}  {rel}"
    path.write_text("\n".join([*lines, again]) + "\n")
    if name == "manifest-sha256.txt":
        recompute_tags(export.bag)
    both_fail(export, cli, f"{name} line {len(lines) + 1}", "bag-manifest-duplicate", rel)


def _reformat(text: str, how: str) -> str:
    if how == "crlf":
        return text.replace("\n", "\r\n")
    if how == "indented":
        return "".join(json.dumps(json.loads(line), indent=1) + "\n"
                       for line in text.splitlines())
    # a key repeated with the same value: this reader takes the last, another the first
    return "".join(line[:-1] + ',"' + next(iter(json.loads(line))) + '":'
                   + json.dumps(next(iter(json.loads(line).values()))) + "}\n"
                   for line in text.splitlines())


@pytest.mark.parametrize("rel,how", [
    (rel, how) for rel in (CHECKPOINT, CHECKPOINTS, "data/ledger/export.json")
    for how in ("crlf", "indented", "repeated key")] + [
    ("data/ledger/entries.jsonl", "crlf"), ("data/ledger/entries.jsonl", "repeated key")])
def test_a_ledger_file_not_in_canonical_form_fails(export: Export, cli, rel: str,
                                                   how: str) -> None:
    """An export writes canonical JSON: whitespace, line ends or a repeated key mean the file
    was rewritten (a repeated key is read differently by different JSON readers)."""
    path = export.bag / rel
    path.write_text(_reformat(path.read_text(), how), newline="")
    recompute_manifests(export.bag)
    where = f"{rel} line 1" if rel.endswith(".jsonl") else rel
    both_fail(export, cli, where, "ledger-canonical", "canonical JSON")


@pytest.mark.parametrize("rel", ["data/extra", "data/blobs/more", "notes"])
def test_an_empty_folder_added_to_the_bag_fails(export: Export, cli, rel: str) -> None:
    """No manifest lists folders: an added empty one is seen only by walking the bag."""
    (export.bag / rel).mkdir()
    both_fail(export, cli, rel, "bag-folder-unexpected")


def test_a_duplicated_entry_is_named_as_such(export: Export, cli) -> None:
    """A copied line of entries.jsonl read only 'entries are out of order'."""
    path = export.bag / "data/ledger/entries.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:2] + lines[1:2] + lines[2:]))
    recompute_manifests(export.bag)
    index = json.loads(lines[1])["index"]
    both_fail(export, cli, f"entry {index}", "entry-duplicate", "2 times")


def test_an_older_export_replayed_to_an_auditor_with_a_newer_checkpoint_fails(
        export: Export, archive: EvidenceArchive, cli, tmp_path: Path) -> None:
    """It said 'the log was rewritten': the export is older than the checkpoint saved."""
    saved = tmp_path / "newer-checkpoint.json"
    archive.record("status.changed", "CLM-1", "sync", {"to": "closed"})
    newer = archive.export(tmp_path / "newer", claim="CLM-1")
    shutil.copy(newer / "data/ledger/checkpoint.json", saved)
    both_fail(export, cli, "trusted checkpoint", "checkpoint-inconsistent", "older export",
              args=("--trusted-key", str(export.key), "--checkpoint", str(saved)))


def _blobs(ex: Export) -> list[Path]:
    found = sorted((ex.bag / "data/blobs").iterdir())
    for path in found:
        path.chmod(0o644)
    return found


def _cut_last_entry(ex: Export) -> None:
    path = ex.bag / "data/ledger/entries.jsonl"
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:-1]))


def _swap_blobs(ex: Export) -> None:
    a, b = _blobs(ex)[:2]
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)


def _same_size_blob(ex: Export) -> None:
    blob = _blobs(ex)[0]
    blob.write_bytes(b"x" * blob.stat().st_size)


def _edit_note_signature(ex: Export) -> None:
    """One base64 character of the log's signature line changed (the last line of the note)."""
    data = json.loads((ex.bag / CHECKPOINT).read_text())
    body, _, sig = data["note"].rpartition(" ")
    data["note"] = f"{body} {sig[:10]}{'A' if sig[10] != 'A' else 'B'}{sig[11:]}"
    (ex.bag / CHECKPOINT).write_bytes(canonical_json(data) + b"\n")


def _replace_public_key(ex: Export) -> None:
    other = Ed25519PrivateKey.generate().public_key()
    (ex.bag / "data/keys/signing.pub").write_bytes(public_pem(other))


def _replay_older_checkpoint(ex: Export) -> None:
    older = _history(ex)["checkpoints"][0]["note"]
    (ex.bag / CHECKPOINT).write_bytes(canonical_json(Checkpoint.from_note(older).to_json())
                                      + b"\n")


@pytest.mark.parametrize("attack,code", [
    (_cut_last_entry, "entry-removed"), (_swap_blobs, "blob-altered"),
    (_same_size_blob, "blob-altered"), (_edit_note_signature, "checkpoint-signature"),
    (_replace_public_key, "key-replaced"), (_replay_older_checkpoint, "export-checkpoint")],
    ids=lambda v: v.__name__.strip("_") if callable(v) else v)
def test_an_auditors_attack_with_the_manifests_recomputed_fails(
        export: Export, cli, attack: Callable[[Export], None], code: str) -> None:
    attack(export)
    recompute_manifests(export.bag)
    both_fail(export, cli, "", code)

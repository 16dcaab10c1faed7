"""The verifier that is not ours agrees with ours: on every tamper case of the export tests, the
bag's own ``verify.py`` (run as an auditor runs it: its own Python process, outside the
repository, no Claimwright importable) and ``claims evidence verify-export`` give the same exit
status and the same problems. And ``verify.py`` needs only the standard library and
``cryptography``."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from evidence import Checkpoint, EvidenceArchive, note
from evidence.canonical import canonical_json
from evidence.export import verifier_script
from evidence.keys import load_private_key, public_pem

from .tampering import edit_leaf, flip_byte, leaves, rewrite_log


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Bags do not depend on the database: these cases run on SQLite only."""
    return f"sqlite:///{tmp_path / 'claims.db'}"


@dataclass
class Case:
    """What a tamper case works with; it returns the bag to check and the verifier options."""

    archive: EvidenceArchive
    engine: Engine
    tmp: Path
    bag: Path
    key_pem: Path


def _manifests(bag: Path) -> None:
    payload = sorted(p for p in (bag / "data").rglob("*") if p.is_file())
    (bag / "manifest-sha256.txt").write_text("".join(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(bag).as_posix()}\n"
        for p in payload))
    info = [line if not line.startswith("Payload-Oxum") else
            f"Payload-Oxum: {sum(p.stat().st_size for p in payload)}.{len(payload)}"
            for line in (bag / "bag-info.txt").read_text().splitlines()]
    (bag / "bag-info.txt").write_text("\n".join(info) + "\n")
    (bag / "tagmanifest-sha256.txt").write_text("".join(
        f"{hashlib.sha256((bag / n).read_bytes()).hexdigest()}  {n}\n"
        for n in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "verify.py")))


def _entries(bag: Path) -> list[dict]:
    return [json.loads(x) for x in (bag / "data/ledger/entries.jsonl").read_text().splitlines()]


def _write_entries(bag: Path, items: list[dict]) -> None:
    (bag / "data/ledger/entries.jsonl").write_bytes(
        b"".join(canonical_json(i) + b"\n" for i in items))


def untouched_pinned(c: Case) -> list[str]:
    return ["--trusted-key", str(c.key_pem)]


def untouched_unpinned(c: Case) -> list[str]:
    return []


def untouched_bag_key(c: Case) -> list[str]:
    return ["--trust-bag-key"]


def flipped_blob(c: Case) -> list[str]:
    flip_byte(sorted((c.bag / "data/blobs").iterdir())[0])
    return ["--trusted-key", str(c.key_pem)]


def flipped_entries(c: Case) -> list[str]:
    flip_byte(c.bag / "data/ledger/entries.jsonl")
    return ["--trusted-key", str(c.key_pem)]


def deleted_tag_manifest(c: Case) -> list[str]:
    (c.bag / "tagmanifest-sha256.txt").unlink()
    return ["--trust-bag-key"]


def replaced_blob(c: Case) -> list[str]:
    sorted((c.bag / "data/blobs").iterdir())[0].write_bytes(b"a nicer receipt")
    _manifests(c.bag)
    return ["--trusted-key", str(c.key_pem)]


def removed_blob(c: Case) -> list[str]:
    sorted((c.bag / "data/blobs").iterdir())[1].unlink()
    _manifests(c.bag)
    return ["--trust-bag-key"]


def added_files(c: Case) -> list[str]:
    (c.bag / "data/blobs" / ("ab" * 32)).write_bytes(b"extra")
    (c.bag / "data/ledger/notes.txt").write_text("x")
    _manifests(c.bag)
    return ["--trust-bag-key"]


def altered_entry(c: Case) -> list[str]:
    items = _entries(c.bag)
    leaf = edit_leaf(items[3]["leaf"].encode(), metadata={"reference": "R-78"})
    items[3]["leaf"], items[3]["leaf_hash"] = leaf.decode(), hashlib.sha256(
        b"\x00" + leaf).hexdigest()
    _write_entries(c.bag, items)
    _manifests(c.bag)
    return ["--trusted-key", str(c.key_pem)]


def removed_entry(c: Case) -> list[str]:
    items = _entries(c.bag)
    _write_entries(c.bag, items[:2] + items[3:])
    _manifests(c.bag)
    return ["--trust-bag-key"]


def omitted_event_re_signed(c: Case) -> list[str]:
    """The key holder leaves the APPROVED status change out and re-signs the statement."""
    items = _entries(c.bag)
    gone = next(i for i, e in enumerate(items) if '"approved"' in e["leaf"])
    _write_entries(c.bag, items[:gone] + items[gone + 1:])
    path = c.bag / "data/ledger/export.json"
    statement = json.loads(path.read_text())
    del statement["signature"]
    statement["entries"] = [e for e in statement["entries"] if e[0] != items[gone]["index"]]
    signature = load_private_key(c.archive.evidence_dir).sign(canonical_json(statement))
    path.write_bytes(canonical_json({**statement, "signature": signature.hex()}) + b"\n")
    _manifests(c.bag)
    return ["--trusted-key", str(c.key_pem)]


def reordered_entries(c: Case) -> list[str]:
    items = _entries(c.bag)
    items[1], items[2] = items[2], items[1]
    _write_entries(c.bag, items)
    _manifests(c.bag)
    return ["--trust-bag-key"]


def edited_checkpoint(c: Case) -> list[str]:
    path = c.bag / "data/ledger/checkpoint.json"
    cp = json.loads(path.read_text())
    lines = cp["note"].split("\n")
    lines[1] = str(cp["tree_size"] + 1)
    cp["note"], cp["tree_size"] = "\n".join(lines), cp["tree_size"] + 1
    path.write_bytes(canonical_json(cp))
    _manifests(c.bag)
    return ["--trusted-key", str(c.key_pem)]


def edited_statement(c: Case) -> list[str]:
    path = c.bag / "data/ledger/export.json"
    statement = json.loads(path.read_text())
    statement["entries"] = statement["entries"][:-1]
    path.write_bytes(canonical_json(statement))
    _manifests(c.bag)
    return ["--trust-bag-key"]


def checkpoint_of_another_key(c: Case) -> list[str]:
    path = c.bag / "data/ledger/checkpoint.json"
    cp = Checkpoint.from_json(json.loads(path.read_text()))
    path.write_bytes(canonical_json(Checkpoint(cp.tree_size, cp.root_hash, cp.time, cp.key_id)
                                    .signed(Ed25519PrivateKey.generate()).to_json()))
    _manifests(c.bag)
    return ["--trust-bag-key"]


def _take_over(c: Case) -> Path:
    """Log rewritten and re-signed with an attacker's key, keys swapped, then exported."""
    mallory = Ed25519PrivateKey.generate()
    all_leaves = leaves(c.engine)
    all_leaves[4] = edit_leaf(all_leaves[4], metadata={"reference": "R-FAKE"})
    rewrite_log(c.engine, all_leaves, key=mallory)
    keys = c.archive.evidence_dir / "keys"
    (keys / "signing.key").write_bytes(mallory.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (keys / "signing.pub").write_bytes(public_pem(mallory.public_key()))
    (keys / "checkpoints.jsonl").unlink()
    return c.archive.export(c.tmp / "forged", claim="CLM-1")


def attackers_key_unpinned(c: Case) -> list[str]:
    c.bag = _take_over(c)
    return []


def attackers_key_pinned(c: Case) -> list[str]:
    c.bag = _take_over(c)
    return ["--trusted-key", str(c.key_pem)]


def without_public_key(c: Case) -> list[str]:
    (c.bag / "data/keys/signing.pub").unlink()
    _manifests(c.bag)
    return ["--trusted-key", str(c.key_pem)]


def rewritten_against_saved_checkpoint(c: Case) -> list[str]:
    saved = c.tmp / "saved-checkpoint.json"
    shutil.copy(c.bag / "data/ledger/checkpoint.json", saved)
    all_leaves = leaves(c.engine)
    all_leaves[1] = edit_leaf(all_leaves[1], metadata={"portal": "elsewhere"})
    rewrite_log(c.engine, all_leaves, key=load_private_key(c.archive.evidence_dir))
    (c.archive.evidence_dir / "keys" / "checkpoints.jsonl").unlink()
    c.bag = c.archive.export(c.tmp / "rewritten", claim="CLM-1")
    return ["--trusted-key", str(c.key_pem), "--checkpoint", str(saved)]


def witness_never_cosigned(c: Case) -> list[str]:
    vkey = note.vkey("witness.example/w", note.COSIGNATURE_ED25519,
                     Ed25519PrivateKey.generate().public_key())
    return ["--witness-key", vkey]


def duplicated_entry(c: Case) -> list[str]:
    items = _entries(c.bag)
    _write_entries(c.bag, items + items[-1:])
    _manifests(c.bag)
    return ["--trusted-key", str(c.key_pem)]


def older_export_replayed(c: Case) -> list[str]:
    """The auditor saved this bag's checkpoint; later they are handed an older export."""
    saved = c.tmp / "saved-checkpoint.json"
    older = c.archive.export(c.tmp / "older", claim="CLM-2")
    c.archive.record("status.changed", "CLM-1", "sync", {"to": "closed"})
    newer = c.archive.export(c.tmp / "newer", claim="CLM-1")
    shutil.copy(newer / "data/ledger/checkpoint.json", saved)
    c.bag = older
    return ["--trusted-key", str(c.key_pem), "--checkpoint", str(saved)]


def not_a_bag(c: Case) -> list[str]:
    c.bag = c.tmp / "empty"
    c.bag.mkdir()
    return ["--trust-bag-key"]


CASES: list[Callable[[Case], list[str]]] = [
    untouched_pinned, untouched_unpinned, untouched_bag_key, flipped_blob, flipped_entries,
    deleted_tag_manifest, replaced_blob, removed_blob, added_files, altered_entry,
    removed_entry, omitted_event_re_signed, reordered_entries, edited_checkpoint,
    edited_statement, checkpoint_of_another_key, attackers_key_unpinned, attackers_key_pinned,
    without_public_key, rewritten_against_saved_checkpoint, witness_never_cosigned, not_a_bag,
    duplicated_entry, older_export_replayed,
]
EXPECTED_OK = {untouched_pinned, untouched_bag_key}


def run_verify_py(script: Path, bag: Path, args: list[str]) -> tuple[int, list[tuple]]:
    """``python verify.py BAG --json ...`` as an auditor runs it: outside the repository, with
    nothing of Claimwright importable."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-I", str(script), str(bag), "--json", *args],
                          capture_output=True, text=True, cwd=script.parent, env=env, timeout=300)
    assert done.returncode in (0, 1), done.stderr
    problems = json.loads(done.stdout)["problems"]
    return done.returncode, sorted((p["code"], p["where"], p["message"]) for p in problems)


@pytest.mark.parametrize("tamper", CASES, ids=lambda f: f.__name__)
def test_verify_py_and_verify_export_agree(tamper: Callable[[Case], list[str]],
                                           archive: EvidenceArchive, engine: Engine,
                                           history: Callable[[], None], tmp_path: Path,
                                           cli: Callable[..., object]) -> None:
    history()
    archive.record("status.changed", "CLM-1", "sync", {"from": "approved", "to": "paid"})
    bag = archive.export(tmp_path / "audit", claim="CLM-1", actor="auditor-request")
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    key_pem = auditor / "signing.pub"
    key_pem.write_bytes(archive.public_key_pem())
    script = auditor / "verify.py"
    shutil.copy(bag / "verify.py", script)  # the auditor keeps the verifier of a bag they trust
    case = Case(archive, engine, tmp_path, bag, key_pem)
    args = tamper(case)

    code, problems = run_verify_py(script, case.bag, args)
    result = cli("evidence", "verify-export", str(case.bag), "--json", *args, workspace=None)
    ours = json.loads(result.output)  # type: ignore[attr-defined]
    assert (result.exit_code, sorted((p["code"], p["where"], p["message"])  # type: ignore
                                     for p in ours["problems"])) == (code, problems)
    assert (code == 0) == (tamper in EXPECTED_OK), problems


def test_every_bag_carries_this_verifier(archive: EvidenceArchive, history: Callable[[], None],
                                         tmp_path: Path) -> None:
    history()
    bag = archive.export(tmp_path / "audit", claim="CLM-1")
    assert (bag / "verify.py").read_bytes() == verifier_script()


ALLOWED = set(sys.stdlib_module_names) | {"cryptography", "__future__"}


def test_verify_py_imports_only_the_standard_library_and_cryptography(
        archive: EvidenceArchive, history: Callable[[], None], tmp_path: Path) -> None:
    tree = ast.parse(verifier_script().decode("utf-8"))
    named = {alias.name.split(".")[0] for node in ast.walk(tree)
             if isinstance(node, ast.Import) for alias in node.names}
    named |= {node.module.split(".")[0] for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.module and not node.level}
    assert named <= ALLOWED, named - ALLOWED
    assert not any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(tree))
    # and when it runs: every module it loads (beyond what Python's start-up loaded) is the
    # standard library's, or cryptography's (with the C parts cryptography itself loads)
    history()
    bag = archive.export(tmp_path / "audit", claim="CLM-1")
    probe = ("import runpy, sys; before = set(sys.modules)\n"
             "sys.argv = ['verify.py', sys.argv[1], '--trust-bag-key']\n"
             "try:\n    runpy.run_path('verify.py', run_name='__main__')\n"
             "except SystemExit as done:\n    code = done.code\n"
             "print(code, sorted({m.split('.')[0] for m in set(sys.modules) - before}"
             " - set(sys.stdlib_module_names)))")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-I", "-c", probe, str(bag)], capture_output=True,
                          text=True, cwd=bag, env=env, timeout=300)
    code, loaded = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert code == "0", done.stdout + done.stderr
    assert set(ast.literal_eval(loaded)) <= {"cryptography", "_cffi_backend", "_openssl",
                                             "__main__"}, loaded

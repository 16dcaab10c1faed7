"""Witnesses, for real: `claims evidence witness serve` runs in its own process (its own key and
state folder, HTTP on 127.0.0.1); a workspace names it in claims.toml; each checkpoint goes to
it and its cosignature is kept and exported. The insider cases: a key-holder who rewrites the
log after the witness cosigned is refused and detected; a fork shown to two auditors (split
view) is caught because the witness cosigns only one side."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import tomli_w
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from claims import api
from claims.errors import InputError
from claims.settings import load_settings
from claims.workspace import Workspace, init_workspace
from evidence import note, verifier_core
from evidence.keys import load_private_key
from evidence.sealing import checkpoint_file
from tests.evidence.tampering import edit_leaf, leaves, rewrite_log

REPO = Path(__file__).resolve().parents[2]
#: a bag whose checkpoint the pinned witness never cosigned, with nothing else pinned
NOT_COSIGNED = {"witness-cosignature", "unpinned"}


class WitnessProcess:
    """A real `claims evidence witness serve` process; ``url`` and ``vkey`` from its output."""

    def __init__(self, state: Path, log_vkey: str, port: int = 0) -> None:
        self.state = state
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "claims", "evidence", "witness", "serve", "--state",
             str(state), "--port", str(port), "--log", log_vkey],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        first = self.proc.stdout.readline()  # type: ignore[union-attr]
        second = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not first.startswith("witness listening on "):
            error = self.proc.stderr.read() if not first else ""  # type: ignore[union-attr]
            self.stop()
            raise AssertionError(f"witness did not start: {first!r} {error}")
        self.url = first.split()[-1]
        self.vkey = second.split()[-1]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="module")
def witness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WitnessProcess]:
    """One witness process for the module; each test's workspace (its own key, so its own
    origin) is added with `claims evidence witness trust`."""
    state = tmp_path_factory.mktemp("witness") / "state"
    starter = tmp_path_factory.mktemp("starter")
    ws = init_workspace(starter / "ws")
    try:
        vkey = api.log_verifier_key(ws)
    finally:
        ws.close()
    process = WitnessProcess(state, vkey)
    yield process
    process.stop()


def add_witness(ws_root: Path, url: str, vkey: str) -> None:
    """Name a witness in the workspace's claims.toml."""
    path = ws_root / "claims.toml"
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    config.setdefault("evidence", {}).setdefault("witnesses", []).append(
        {"url": url, "public_key": vkey})
    path.write_bytes(tomli_w.dumps(config).encode())


@pytest.fixture
def witnessed(tmp_path: Path, witness: WitnessProcess, cli: Callable[..., object]
              ) -> Callable[[Path], Workspace]:
    """A workspace at ``root`` whose log the witness witnesses, named in its claims.toml."""
    def make(root: Path) -> Workspace:
        ws = init_workspace(root)
        result = cli("evidence", "witness", "trust", "--state", str(witness.state),
                     api.log_verifier_key(ws), workspace=None)
        assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
        ws.close()
        add_witness(root, witness.url, witness.vkey)
        return Workspace(root)
    return make


def history(ws: Workspace, claim: str = "CLM-1") -> None:
    for kind, meta in (("bundle.built", {"invoice": "INV-1"}),
                       ("submission.finished", {"reference": "R-1"}),
                       ("status.changed", {"to": "submitted"})):
        ws.record_evidence(kind=kind, claim=claim, metadata=meta)


def run_verify_py(bag: Path, *args: str) -> tuple[int, dict]:
    """The bag's own verify.py, in its own Python process, outside the repository."""
    done = subprocess.run([sys.executable, str(bag / "verify.py"), str(bag), "--json", *args],
                          capture_output=True, text=True, cwd=bag.parent, timeout=300,
                          env={**os.environ, "PYTHONPATH": ""})
    return done.returncode, json.loads(done.stdout)


def test_each_checkpoint_is_cosigned_kept_and_exported(
        tmp_path: Path, witnessed: Callable[[Path], Workspace], witness: WitnessProcess,
        cli: Callable[..., object]) -> None:
    ws = witnessed(tmp_path / "ws")
    try:
        history(ws)
        signed = api.sign_checkpoint(ws)
        assert signed.refused == [] and signed.unreachable == []
        assert signed.cosignatures == 1
        ws.record_evidence(kind="status.changed", claim="CLM-1", metadata={"to": "approved"})
        assert api.sign_checkpoint(ws).cosignatures == 1  # the next one too, from size 3 on
        assert [len(cp.cosignatures) for cp in ws.evidence.checkpoints()] == [1, 1]
        bag = api.export_evidence(ws, tmp_path / "bag", claim="CLM-1")
    finally:
        ws.close()
    # the auditor pins only the witness: its cosignature vouches for the checkpoint
    report = api.verify_evidence_export(bag, witness_keys=[witness.vkey])
    assert report.ok, report.summary()
    assert report.checked["witness cosignatures"] == 1
    code, out = run_verify_py(bag, "--witness-key", witness.vkey)
    assert (code, out["ok"]) == (0, True)
    earlier = json.loads((bag / "data/ledger/checkpoints.json").read_text())["checkpoints"]
    assert all(witness.vkey.split("+")[0] in c["note"] for c in earlier)
    result = cli("evidence", "checkpoint", workspace=tmp_path / "ws")
    assert result.exit_code == 0 and "1 witness cosignature(s)" in result.output  # type: ignore


def test_a_key_holder_rewrite_after_the_witness_cosigned_is_refused_and_detected(
        tmp_path: Path, witnessed: Callable[[Path], Workspace], witness: WitnessProcess,
        cli: Callable[..., object]) -> None:
    root = tmp_path / "ws"
    ws = witnessed(root)
    try:
        history(ws)
        assert api.sign_checkpoint(ws).cosignatures == 1  # the witness saw 3 entries
        # The insider holds the key, the database and the files: they rewrite "submitted" into
        # "rejected", re-chain, re-sign a checkpoint, and remove every trace of the old one.
        forged = leaves(ws.store.engine)
        forged[2] = edit_leaf(forged[2], metadata={"to": "rejected"})
        rewrite_log(ws.store.engine, forged, load_private_key(ws.evidence_dir))
        checkpoint_file(ws.evidence_dir).unlink()
        ws.record_evidence(kind="payment.matched", claim="CLM-1", metadata={"amount": "1"})
        signed = api.sign_checkpoint(ws)  # the log signs: every local trace is consistent...
        assert signed.checkpoint.tree_size == 4 and signed.cosignatures == 0
        assert len(signed.refused) == 1  # ...but the witness remembers
        assert "HTTP 422" in signed.refused[0] and "rewritten" in signed.refused[0]
        bag = api.export_evidence(ws, tmp_path / "bag", claim="CLM-1")
    finally:
        ws.close()
    result = cli("evidence", "checkpoint", workspace=root)
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert "refused" in result.output and "rewritten" in result.output  # type: ignore
    # the auditor who pins the witness (and even the right log key) sees it was never cosigned
    pinned_key = root / "evidence" / "keys" / "signing.pub"
    report = api.verify_evidence_export(bag, witness_keys=[witness.vkey], trusted_key=pinned_key)
    assert report.codes() == {"witness-cosignature"}
    code, out = run_verify_py(bag, "--witness-key", witness.vkey)
    assert code == 1 and {p["code"] for p in out["problems"]} == NOT_COSIGNED


def test_a_fork_shown_to_two_auditors_is_caught_by_the_witness(
        tmp_path: Path, witnessed: Callable[[Path], Workspace], witness: WitnessProcess) -> None:
    ws_a = witnessed(tmp_path / "a")
    history(ws_a)
    assert api.sign_checkpoint(ws_a).cosignatures == 1
    ws_a.close()
    # the key holder keeps a second copy of everything: one history for each auditor
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    ws_a, ws_b = Workspace(tmp_path / "a"), Workspace(tmp_path / "b")
    try:
        ws_a.record_evidence(kind="status.changed", claim="CLM-1", metadata={"to": "approved"})
        bag_a = api.export_evidence(ws_a, tmp_path / "bag-a", claim="CLM-1")
        ws_b.record_evidence(kind="status.changed", claim="CLM-1", metadata={"to": "rejected"})
        bag_b = api.export_evidence(ws_b, tmp_path / "bag-b", claim="CLM-1")
        refused = api.sign_checkpoint(ws_b).refused
        assert len(refused) == 1 and "a fork" in refused[0]
    finally:
        ws_a.close()
        ws_b.close()
    key = tmp_path / "a" / "evidence" / "keys" / "signing.pub"
    # each bag alone is perfect with the pinned log key: same key, same size, both signed...
    for bag in (bag_a, bag_b):
        assert api.verify_evidence_export(bag, trusted_key=key).ok
    # ...but the witness cosigned only one of the two histories
    assert api.verify_evidence_export(bag_a, witness_keys=[witness.vkey]).ok
    report_b = api.verify_evidence_export(bag_b, witness_keys=[witness.vkey])
    assert report_b.codes() == NOT_COSIGNED
    assert "a fork shown only to you" in report_b.summary()
    code, out = run_verify_py(bag_b, "--witness-key", witness.vkey)
    assert code == 1 and {p["code"] for p in out["problems"]} == NOT_COSIGNED


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_witness_is_a_warning_and_cosigns_the_next_checkpoint(
        tmp_path: Path, cli: Callable[..., object]) -> None:
    root = tmp_path / "ws"
    ws = init_workspace(root)
    log_vkey = api.log_verifier_key(ws)
    ws.close()
    state, port = tmp_path / "w", free_port()
    witness_vkey = api.witness_verifier_key(state)
    add_witness(root, f"http://127.0.0.1:{port}", witness_vkey)
    ws = Workspace(root)
    try:
        history(ws)
        signed = api.sign_checkpoint(ws)
        assert signed.refused == [] and len(signed.unreachable) == 1
        assert "no answer" in signed.unreachable[0]
    finally:
        ws.close()
    down = cli("evidence", "checkpoint", workspace=root)
    assert down.exit_code == 0 and "warning: witness" in down.output  # type: ignore
    process = WitnessProcess(state, log_vkey, port)
    try:
        assert process.vkey == witness_vkey  # the same witness: its key is in its state folder
        ws = Workspace(root)
        try:
            assert api.sign_checkpoint(ws).cosignatures == 1  # retried: the same checkpoint
        finally:
            ws.close()
    finally:
        process.stop()


def test_the_log_and_witness_verifier_keys(tmp_path: Path, cli: Callable[..., object]) -> None:
    root = tmp_path / "ws"
    init_workspace(root).close()
    log = cli("evidence", "vkey", workspace=root)
    parsed = note.parse_vkey(log.output.strip())  # type: ignore[attr-defined]
    assert parsed.kind == note.NOTE_ED25519 and parsed.name.startswith("claimwright.evidence/")
    first = cli("evidence", "witness", "vkey", "--state", str(tmp_path / "w"), "--name",
                "witness.example/1", workspace=None)
    again = cli("evidence", "witness", "vkey", "--state", str(tmp_path / "w"), workspace=None)
    assert first.output == again.output  # type: ignore[attr-defined]
    witness = note.parse_vkey(first.output.strip())  # type: ignore[attr-defined]
    assert (witness.kind, witness.name) == (note.COSIGNATURE_ED25519, "witness.example/1")


def test_a_witness_state_that_is_a_fifo_is_one_clear_line(
        tmp_path: Path, cli: Callable[..., object]) -> None:
    """--state naming a FIFO said only "witness state …: File exists"."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for args in (["vkey"], ["trust", "x"]):
        result = cli("evidence", "witness", *args, "--state", str(fifo), workspace=None)
        assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
        assert "--state: is not a folder" in result.output  # type: ignore[attr-defined]
        assert "File exists" not in result.output  # type: ignore[attr-defined]
    assert os.path.exists(fifo) and not os.path.isdir(fifo)


def test_serving_a_witness_of_no_log_or_on_a_taken_port_is_one_clear_line(
        tmp_path: Path, cli: Callable[..., object]) -> None:
    nothing = cli("evidence", "witness", "serve", "--state", str(tmp_path / "w"), "--port", "0",
                  workspace=None)
    assert nothing.exit_code != 0 and "witnesses no log yet" in nothing.output  # type: ignore
    root = tmp_path / "ws"
    ws = init_workspace(root)
    vkey = api.log_verifier_key(ws)
    ws.close()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = cli("evidence", "witness", "serve", "--state", str(tmp_path / "w"), "--port",
                   str(taken.getsockname()[1]), "--log", vkey, workspace=None)
    assert busy.exit_code != 0 and "cannot listen" in busy.output  # type: ignore
    assert "Traceback" not in busy.output  # type: ignore[attr-defined]


def test_witnesses_in_claims_toml_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "claims.toml"
    path.write_text('[[evidence.witnesses]]\nurl = "http://127.0.0.1:1"\n'
                    'public_key = "not-a-key"\n', encoding="utf-8")
    with pytest.raises(InputError, match="evidence.witnesses.0.public_key"):
        load_settings(path)
    path.write_text('[[evidence.witnesses]]\nurl = "http://127.0.0.1:1"\npublick_key = "x"\n',
                    encoding="utf-8")
    with pytest.raises(InputError, match="public_key"):
        load_settings(path)


def test_a_verifier_key_whose_base64_holds_a_plus_is_read() -> None:
    name = "claimwright.witness/plus"
    keys = (Ed25519PrivateKey.generate().public_key() for _ in range(500))
    text, key = next((t, k) for k in keys
                     if "+" in (t := note.vkey(name, note.COSIGNATURE_ED25519, k)).split("+", 2)[2])
    assert note.parse_vkey(text).key.public_bytes_raw() == key.public_bytes_raw()
    assert verifier_core.parse_vkey(text)[0] == name

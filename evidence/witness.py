"""Witnesses: a process that cosigns a log's checkpoints only after a valid consistency proof from
the last one it cosigned, and the log's client for it.

The subset of C2SP tlog-witness (https://c2sp.org/tlog-witness) implemented, over plain HTTP:

* ``POST /add-checkpoint`` with ``old <size>\\n``, the consistency proof lines (base64), an empty
  line and the signed checkpoint note. Answers: 200 with the cosignature line(s); 400 a malformed
  request or old size above the checkpoint's; 403 no signature of a trusted log key; 404 an
  unknown origin; 409 (``text/x.tlog.size``: the size it last cosigned) when ``old`` is not that
  size, or the same size with another root hash; 422 a consistency proof that does not verify.
* Check and update of a log's latest cosigned checkpoint are one atomic step (one lock), and the
  new state is on disk (write, fsync, rename) before the answer.

The witness's state folder holds ``witness.key`` (its Ed25519 key, PKCS#8 PEM, 0600),
``witness.vkey`` (its name and public key as a C2SP vkey, to give to auditors),
``logs.txt`` (the note vkeys of the logs it witnesses, one a line) and ``state/`` (per origin:
size and root hash it last cosigned).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence import merkle, note
from evidence.errors import SigningKeyError, WitnessError, WitnessRefused, WitnessUnreachable
from evidence.model import Checkpoint
from evidence.verifier_core import entry_count

MAX_BODY = 1 << 16
TIMEOUT_SECONDS = 10.0


# --- the log's side ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the log sends its checkpoints to: its URL and its vkey (name and public key)."""

    url: str
    vkey: str

    @property
    def key(self) -> note.VerifierKey:
        """The parsed verifier key (``ValueError`` when it is not a cosignature vkey)."""
        parsed = note.parse_vkey(self.vkey)
        if parsed.kind != note.COSIGNATURE_ED25519:
            raise ValueError(f"{parsed.name}: not a witness (cosignature/v1) key")
        return parsed


def add_checkpoint(endpoint: WitnessEndpoint, cp: Checkpoint, old_size: int,
                   proof_from: Callable[[int], list[bytes]], log_size: int | None = None
                   ) -> str | None:
    """Ask ``endpoint`` to cosign ``cp``, proving consistency from ``old_size``; returns the
    cosignature line. A 409 naming another size is retried once from that size.

    When the witness has already cosigned a larger checkpoint that the log (now ``log_size``
    entries) also holds — another process's newer checkpoint reached it first — ``cp`` is not
    cosigned and None is returned: that newer cosignature covers it."""
    witness = endpoint.key
    for _ in range(2):
        status, body = _post(endpoint, old_size, proof_from(old_size), cp.note_text())
        if status == 200:
            return _cosignature_from(witness, cp, body)
        if status == 409 and body.strip().isdigit() and int(body) != old_size:
            if int(body) > cp.tree_size:
                if log_size is not None and int(body) <= log_size:
                    return None
                raise WitnessRefused(witness.name, f"it cosigned {entry_count(int(body))}, this "
                                     f"checkpoint has {cp.tree_size}: the log was truncated")
            old_size = int(body)
            continue
        raise WitnessRefused(witness.name, _refusal(status, body, cp, old_size))
    raise WitnessRefused(witness.name, "kept answering 409 Conflict")


def _post(endpoint: WitnessEndpoint, old_size: int, proof: Sequence[bytes],
          note_text: str) -> tuple[int, str]:
    payload = (f"old {old_size}\n" + "".join(base64.b64encode(p).decode() + "\n" for p in proof)
               + "\n" + note_text).encode()
    url = endpoint.url.rstrip("/") + "/add-checkpoint"
    request = urllib.request.Request(url, data=payload, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as reply:
            return reply.status, reply.read(MAX_BODY).decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read(MAX_BODY).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as err:
        raise WitnessUnreachable(endpoint.url, f"no answer ({getattr(err, 'reason', err)})") \
            from err


def _refusal(status: int, body: str, cp: Checkpoint, old_size: int) -> str:
    reasons = {403: "it does not trust this log's key", 404: "it does not witness this log",
               409: f"it cosigned another checkpoint of size {cp.tree_size} (a fork)",
               422: f"the log is not consistent with the checkpoint it cosigned at size "
                    f"{old_size}: the log was rewritten",
               400: "it found the request malformed"}
    detail = body.strip().splitlines()[0][:200] if body.strip() else ""
    return (f"refused checkpoint of size {cp.tree_size} (HTTP {status}): "
            + reasons.get(status, "unexpected answer") + (f" — {detail}" if detail else ""))


def _cosignature_from(witness: note.VerifierKey, cp: Checkpoint, body: str) -> str:
    text = cp.body().decode()
    for line in body.splitlines():
        parts = line.split(" ")
        if len(parts) == 3 and parts[0] == note.DASH and parts[1] == witness.name:
            try:
                decoded = base64.b64decode(parts[2], validate=True)
            except binascii.Error:
                continue
            if note.cosignature_time(text, witness, decoded) is not None:
                return line + "\n"
    raise WitnessError(witness.name, "answered without a valid cosignature by its key")


# --- the witness process ----------------------------------------------------------------------


class Witness:
    """A witness over its state folder: its key, the logs it trusts, what it last cosigned."""

    def __init__(self, state_dir: Path, name: str | None = None) -> None:
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.dir / "state").mkdir(exist_ok=True, mode=0o700)
        self.key, self.name = self._load_or_make_key(name)
        self.vkey = note.vkey(self.name, note.COSIGNATURE_ED25519, self.key.public_key())
        (self.dir / "witness.vkey").write_text(self.vkey + "\n", encoding="utf-8")
        self._lock = threading.Lock()

    def _load_or_make_key(self, name: str | None) -> tuple[Ed25519PrivateKey, str]:
        key_path, name_path = self.dir / "witness.key", self.dir / "witness.name"
        if key_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise SigningKeyError(f"{key_path} is not an Ed25519 key", path=key_path)
            stored = name_path.read_text(encoding="utf-8").strip()
            if name and name != stored:
                raise SigningKeyError(f"{self.dir} is the witness {stored}, not {name}",
                                      path=name_path)
            return key, stored
        key = Ed25519PrivateKey.generate()
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        chosen = name or f"claimwright.witness/{os.urandom(4).hex()}"
        name_path.write_text(chosen + "\n", encoding="utf-8")
        return key, chosen

    def trust_logs(self, vkeys: Sequence[str]) -> None:
        """Add log note keys (vkeys) to ``logs.txt``; ``ValueError`` for one that is not."""
        known = self.trusted_logs()
        for text in vkeys:
            parsed = note.parse_vkey(text)
            if parsed.kind != note.NOTE_ED25519:
                raise ValueError(f"{parsed.name}: not a log (note) key")
            known[parsed.name] = parsed
        (self.dir / "logs.txt").write_text(
            "".join(note.vkey(k.name, k.kind, k.key) + "\n" for k in known.values()),
            encoding="utf-8")

    def trusted_logs(self) -> dict[str, note.VerifierKey]:
        """Origin → the log's note key, from ``logs.txt``."""
        path = self.dir / "logs.txt"
        if not path.exists():
            return {}
        keys = [note.parse_vkey(line) for line in path.read_text().splitlines() if line.strip()]
        return {k.name: k for k in keys}

    def _state_path(self, origin: str) -> Path:
        return self.dir / "state" / hashlib.sha256(origin.encode()).hexdigest()

    def latest(self, origin: str) -> tuple[int, bytes]:
        """(size, root hash) this witness last cosigned for ``origin`` ((0, empty root) if none)."""
        try:
            data = json.loads(self._state_path(origin).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return 0, merkle.EMPTY_ROOT
        return int(data["size"]), bytes.fromhex(data["root"])

    def _persist(self, origin: str, size: int, root: bytes) -> None:
        path = self._state_path(origin)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"origin": origin, "size": size, "root": root.hex()}, f)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)

    def add_checkpoint(self, request: bytes) -> tuple[int, str]:
        """Handle one ``add-checkpoint`` body; returns (HTTP status, response body)."""
        try:
            old_size, proof, body, sigs = _parse_request(request)
            cp = note.parse_body(body)
        except ValueError as err:
            return 400, f"{err}\n"
        log_key = self.trusted_logs().get(cp.origin)
        if log_key is None:
            return 404, f"unknown log {cp.origin}\n"
        if not any(name == cp.origin and note.note_signature_ok(body, name, s, log_key.key)
                   for name, s in sigs):
            return 403, "no valid signature of the log's key\n"
        if old_size > cp.size:
            return 400, "old size is above the checkpoint size\n"
        with self._lock:
            size, root = self.latest(cp.origin)
            if old_size != size:
                return 409, f"{size}\n"
            if old_size == cp.size:
                if cp.root != root:
                    return 409, f"{size}\n"
            elif old_size == 0:
                if proof:
                    return 422, "the proof from size 0 must be empty\n"
            elif not merkle.verify_consistency(old_size, cp.size, root, cp.root, proof):
                return 422, f"not consistent with the checkpoint cosigned at size {size}\n"
            self._persist(cp.origin, cp.size, cp.root)
        return 200, note.cosign(body, self.name, self.key, int(time.time()))


def _parse_request(data: bytes) -> tuple[int, list[bytes], str, list[tuple[str, bytes]]]:
    text = data.decode("utf-8")
    head, sep, rest = text.partition("\n\n")
    if not sep:
        raise ValueError("no empty line before the checkpoint")
    lines = head.split("\n")
    if not lines[0].startswith("old ") or not lines[0][4:].isdigit():
        raise ValueError("the first line is not 'old <size>'")
    if len(lines) - 1 > 63:
        raise ValueError("more than 63 proof lines")
    try:
        proof = [base64.b64decode(line, validate=True) for line in lines[1:]]
    except binascii.Error:
        raise ValueError("a proof line is not base64") from None
    if any(len(p) != 32 for p in proof):
        raise ValueError("a proof hash is not 32 bytes")
    body, sigs = note.split_note(rest)
    return int(lines[0][4:]), proof, body, sigs


def serve(witness: Witness, port: int, *, host: str = "127.0.0.1",
          ready: Callable[[str], None] | None = None) -> None:
    """Serve ``witness`` on http://``host``:``port`` until interrupted (port 0: any free port;
    ``ready`` is called with the URL once it listens)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the http.server name)
            if self.path.rstrip("/") != "/add-checkpoint":
                self._answer(404, "not found\n")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                self._answer(400, "missing or oversized body\n")
                return
            status, body = witness.add_checkpoint(self.rfile.read(length))
            self._answer(status, body)

        def _answer(self, status: int, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/x.tlog.size" if status == 409
                             else "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as err:
        raise WitnessError(f"{host}:{port}", f"cannot listen: {err.strerror or err}") from err
    try:
        if ready is not None:
            ready(f"http://{host}:{server.server_address[1]}")
        server.serve_forever()
    finally:
        server.server_close()

"""The archive's Ed25519 signing key pair: made once at ``claims init``, never replaced.

``<evidence_dir>/keys/signing.key`` is the private key (PKCS#8 PEM, mode 0600, refused when group or
world can read it); ``signing.pub`` beside it is the public key an auditor verifies with. A key is
named by its *key id*: the SHA-256 of its raw 32 public bytes, in hex.

Several machines that share one ledger sign with one key: the caller passes ``key_file`` (a
private key kept elsewhere, e.g. on a shared folder); its public key is beside it, same name with
``.pub``.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from evidence.errors import KeysExist, KeysMissing, SigningKeyError
from evidence.verifier_core import read_limited

KEYS_DIR = "keys"
PRIVATE_KEY_FILE = "signing.key"
PUBLIC_KEY_FILE = "signing.pub"


def keys_dir(evidence_dir: Path) -> Path:
    """Where the key pair of the archive at ``evidence_dir`` lives."""
    return Path(evidence_dir) / KEYS_DIR


def key_files(evidence_dir: Path, key_file: Path | None = None) -> tuple[Path, Path]:
    """(private, public) key paths: ``key_file`` and its ``.pub`` twin, else the archive's own."""
    if key_file is not None:
        private = Path(key_file)
        return private, private.with_suffix(".pub")
    directory = keys_dir(evidence_dir)
    return directory / PRIVATE_KEY_FILE, directory / PUBLIC_KEY_FILE


def init_keys(evidence_dir: Path, key_file: Path | None = None) -> Path:
    """Make the archive's key pair (at ``key_file`` when given); return the public key's path.

    Raises :class:`KeysExist` rather than replace a key: every checkpoint is signed by it.
    """
    private_path, public_path = key_files(evidence_dir, key_file)
    private_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if private_path.exists():
        raise KeysExist(private_path)
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    # O_EXCL: two `claims init` racing cannot both write a key; 0600 from the first byte on.
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as err:
        raise KeysExist(private_path) from err
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem)
    public_path.write_bytes(public_pem(key.public_key()))
    public_path.chmod(0o600)  # not secret, but the workspace is its owner's: copy it out to share
    return public_path


def public_pem(key: Ed25519PublicKey) -> bytes:
    """The public key as SubjectPublicKeyInfo PEM (what ``signing.pub`` holds)."""
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: Ed25519PublicKey) -> str:
    """The key id: SHA-256 of the raw public key, hex."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def load_private_key(evidence_dir: Path, key_file: Path | None = None) -> Ed25519PrivateKey:
    """Read the archive's private key; refuses a missing, foreign or readable-by-others file."""
    path = key_files(evidence_dir, key_file)[0]
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except FileNotFoundError as err:
        raise KeysMissing(path) from err
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SigningKeyError(f"{path} is readable by other users (mode {mode & 0o777:o}); "
                              "chmod 600 it", path=path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError as err:
        raise SigningKeyError(f"{path} is not a PEM private key", path=path) from err
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 key", path=path)
    return key


def load_public_key(source: Path | str | bytes) -> Ed25519PublicKey:
    """Read a public key from PEM bytes or a PEM file (``signing.pub``)."""
    path: Path | None = None
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        try:
            data = read_limited(path)  # a FIFO or a huge file put in its place: refused
        except FileNotFoundError as err:
            raise KeysMissing(path) from err
        except OSError as err:
            raise SigningKeyError(f"{path}: cannot read: {err.strerror or err}",
                                  path=path) from None
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as err:
        raise SigningKeyError(f"{path or 'public key'}: not a PEM public key", path=path) from err
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path or 'public key'}: not an Ed25519 key", path=path)
    return key


def signature_ok(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` is ``key``'s Ed25519 signature of ``message``."""
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True

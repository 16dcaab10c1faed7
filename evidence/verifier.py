#!/usr/bin/env python3
"""Standalone verifier of a Claimwright evidence export (a BagIt bag), shipped in every bag as
``verify.py``: the Python standard library and ``cryptography`` only; every format it reads is
specified in docs/evidence-format.md (``claims evidence verify-export`` runs this same code).

    python3 verify.py BAG [--trusted-key PEM] [--witness-key VKEY]... [--trust-bag-key]
                          [--checkpoint SAVED]... [--json]

Exit status 0 verified, 1 problems found (each with a code, where, and what), 2 bad arguments.
Without a pinned key or a pinned witness's cosignature the verdict is "unpinned".

(In the repository: the checks of a bag. ``verify.py`` is :mod:`evidence.verifier_core` then this
module, one file, built by :func:`evidence.export.verifier_script`.)
"""

from __future__ import annotations

import argparse
import binascii
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from evidence.verifier_core import (CHECKPOINT_FIELDS, CHECKPOINT_TYPE, DERIVED, ENTRY_FIELDS,
                                    EXPORT_TYPE, KNOWN, LEGACY_EXPORT_TYPE, MAX_LINE,
                                    ORIGIN_PREFIX, STATEMENT_FIELDS, BadOption, canonical_json,
                                    cosigned_by, ed25519_ok, event_problem, exact_fields,
                                    hex_list, is_hex64,
                                    is_int, leaf_hash, load_json, load_pem_key, log_signature_ok,
                                    not_canonical, open_regular, parse_json, parse_note,
                                    pinned_key, raw_key, read_bag, read_limited, Report, same,
                                    saved_checkpoint, scope_problem,
                                    bag_info, verify_consistency, verify_inclusion,
                                    verify_structure, walk_bag, witness_key)

STORE, MANY = {"action": "store_true"}, {"action": "append", "default": []}
RANGE_NOTE = ("an export of a date range (not of a claim) proves that each event it holds is "
              "genuine, signed into the log and in log order; not that it holds every event of "
              "the range (the key holder may leave some out): only a claim's export proves its "
              "claim's events complete (their chain, ending with the export's own event)")


def choose_key(bag: Path, pinned: Ed25519PublicKey | None,
               report: Report) -> Ed25519PublicKey | None:
    """The key to check the log's signatures with: the pinned one, else the bag's own."""
    try:
        bag_key: Ed25519PublicKey | None = load_pem_key(read_bag(bag, "data/keys/signing.pub"))
    except (OSError, ValueError) as err:
        report.fail("bag-key", "data/keys/signing.pub", f"no Ed25519 public key: {err}")
        bag_key = None
    key = pinned or bag_key
    if pinned is not None and bag_key is not None and raw_key(pinned) != raw_key(bag_key):
        report.fail("key-replaced", "data/keys/signing.pub", "the bag's key (id "
                    f"{hashlib.sha256(raw_key(bag_key)).hexdigest()}) is not the trusted key")
    if key is not None:
        report.key_id = hashlib.sha256(raw_key(key)).hexdigest()
    return key


def read_checkpoint(bag: Path, report: Report) -> dict[str, Any] | None:
    """The signed checkpoint note every proof is against (data/ledger/checkpoint.json)."""
    raw = load_json(bag, "data/ledger/checkpoint.json", report)
    if raw is None:
        return None
    try:
        data = exact_fields(raw, CHECKPOINT_FIELDS, "it")
        if not isinstance(data["note"], str):
            raise ValueError("its note is not a string")
        cp = parse_note(data["note"])
        own = [s for name, s in cp["signatures"] if name == cp["origin"] and len(s) == 68]
        for name, value in (("tree_size", cp["size"]), ("root_hash", cp["root"].hex())):
            if not same(data[name], value):  # what every proof is against: stop here
                raise ValueError(f"{name} {json.dumps(data[name])[:80]} is not the signed "
                                 f"note's {json.dumps(value)}")
        signed = {"type": CHECKPOINT_TYPE, "origin": cp["origin"], "time": cp["time"],
                  "key_id": cp["origin"].removeprefix(ORIGIN_PREFIX),
                  "signature": own[0][4:].hex() if own else "(none in the note)"}
    except (KeyError, TypeError, ValueError, binascii.Error) as err:
        report.fail("checkpoint-unreadable", "data/ledger/checkpoint.json", str(err))
        return None
    for name, value in signed.items():  # the note is authoritative: check on with it
        if not same(data[name], value):
            report.fail("checkpoint-fields", f"data/ledger/checkpoint.json field {name}",
                        f"{json.dumps(data[name])[:80]} is not the signed note's "
                        f"{json.dumps(value)[:80]} (edited)")
    report.checkpoint = cp
    report.count("checkpoints")
    return cp


def check_trust(cp: dict[str, Any], key: Ed25519PublicKey | None, pinned: bool,
                witnesses: list[tuple[str, int, Ed25519PublicKey]], trust_bag_key: bool,
                report: Report) -> None:
    """The log's signature, the pinned witnesses' cosignatures, and whether anything is pinned."""
    where = "data/ledger/checkpoint.json"
    if key is not None and not log_signature_ok(cp, key):
        report.fail("checkpoint-signature", where, f"signature does not verify with key "
                    f"{report.key_id}: forged, edited, or signed with another key")
    witnessed = False
    for witness in witnesses:
        report.count("witness cosignatures")
        if cosigned_by(cp, witness):
            witnessed = True
        else:
            report.fail("witness-cosignature", f"{where} (witness {witness[0]})", "no valid "
                        "cosignature of this pinned witness: it never saw this checkpoint "
                        "(a fork shown only to you, or a rewritten log)")
    if not pinned and not witnessed and not trust_bag_key:
        report.fail("unpinned", "data/keys/signing.pub", "no pinned key (--trusted-key) and no "
                    "cosignature of a pinned witness (--witness-key): anyone could have made "
                    "and signed this bag; pin one, or accept the bag's own key with "
                    "--trust-bag-key")


def read_statement(bag: Path, cp: dict[str, Any], key: Ed25519PublicKey | None,
                   report: Report) -> dict[str, Any]:
    """The signed export statement: scope, the entries it lists, hashes of the derived files."""
    where = "data/ledger/export.json"
    statement = load_json(bag, where, report)
    if not isinstance(statement, dict):
        return {}
    body = {k: v for k, v in statement.items() if k != "signature"}
    known = STATEMENT_FIELDS if body.get("type") == EXPORT_TYPE else tuple(
        f for f in STATEMENT_FIELDS if f != "checkpoints")
    try:
        exact_fields(statement, known, "the statement")
        check_statement(body)
    except ValueError as err:
        report.fail("export-unreadable", where, str(err))
    try:
        sig = bytes.fromhex(str(statement.get("signature")))
    except ValueError:
        sig = b""
    try:
        signed = canonical_json(body)
    except ValueError:  # NaN or Infinity: load_json reported it as not canonical
        signed = b""
    if key is not None and not (signed and ed25519_ok(key, sig, signed)):
        report.fail("export-signature", where, "signature does not verify with key "
                    f"{report.key_id}: the statement was edited or forged")
    if body.get("type") not in (EXPORT_TYPE, LEGACY_EXPORT_TYPE):
        report.fail("export-unreadable", where, f"not a {EXPORT_TYPE} statement")
    elif body.get("type") == EXPORT_TYPE and not isinstance(body.get("checkpoints"), list):
        report.fail("export-unreadable", where, "names no list of earlier checkpoints")
    if not (same(body.get("tree_size"), cp["size"]) and same(body.get("root_hash"),
                                                           cp["root"].hex())
            and same(body.get("key_id"), cp["origin"].removeprefix(ORIGIN_PREFIX))):
        report.fail("export-checkpoint", where, "names a different checkpoint from "
                    "data/ledger/checkpoint.json")
    return body


def check_statement(body: dict[str, Any]) -> None:
    """The statement's fields have their types (ValueError naming the first that does not)."""
    if (why := scope_problem(body["scope"])) is not None:
        raise ValueError(why)
    for name in ("entries", "checkpoints"):
        listed = body.get(name, [])
        if not isinstance(listed, list) or not all(
                isinstance(i, list) and len(i) == 2 and is_int(i[0]) and i[0] >= 0
                and is_hex64(i[1]) for i in listed):
            raise ValueError(f"its {name} is not a list of [index or size, SHA-256 hex]")
    files = exact_fields(body["files"], DERIVED, "its files")
    if not all(is_hex64(h) for h in files.values()):
        raise ValueError("its files are not SHA-256 hex hashes")


def entry_lines(bag: Path, rel: str, report: Report) -> Iterator[tuple[int, str]]:
    """(number, text) of each line of ``rel``, read one line at a time: a line over
    :data:`MAX_LINE` bytes, or not UTF-8, is reported and ends the reading."""
    try:
        with open_regular(bag / rel) as f:
            for n, line in enumerate(iter(lambda: f.readline(MAX_LINE + 1), b""), 1):
                if len(line) > MAX_LINE:
                    return report.fail("entry-unreadable", f"{rel} line {n}", f"longer than "
                                       f"{MAX_LINE:,} bytes: refused (not read further)")
                try:
                    yield n, line.decode("utf-8")
                except UnicodeDecodeError:
                    return report.fail("bag-ledger-unreadable", f"{rel} line {n}", "not UTF-8")
    except FileNotFoundError:
        report.fail("bag-ledger-missing", rel, "missing")
    except OSError as err:
        report.fail("bag-ledger-unreadable", rel, f"cannot read: {err.strerror or err}")


def verify_entries(bag: Path, cp: dict[str, Any], report: Report) -> list[dict[str, Any]]:
    """Every line of entries.jsonl: leaf hash, inclusion proof, decoded event."""
    rel = "data/ledger/entries.jsonl"
    found = []
    for n, line in entry_lines(bag, rel, report):
        try:
            item = exact_fields(parse_json(line), ENTRY_FIELDS, "it")
            if (why := not_canonical(line.encode("utf-8"), item)) is not None:
                report.fail("ledger-canonical", f"{rel} line {n}", why)
            index = item["index"]
            if not is_int(index) or index < 0:
                raise ValueError(f"index {json.dumps(index)[:40]} is not a non-negative integer")
            if not isinstance(item["leaf"], str) or not is_hex64(item["leaf_hash"]):
                raise ValueError("leaf is not a string, or leaf_hash not SHA-256 hex")
            leaf, stated = item["leaf"].encode("utf-8"), bytes.fromhex(item["leaf_hash"])
            proof = hex_list(item["inclusion_proof"], "inclusion_proof")
        except (ValueError, KeyError, TypeError) as err:
            report.fail("entry-unreadable", f"{rel} line {n}", f"not an entry with a proof: {err}")
            continue
        where = f"entry {index} ({rel} line {n})"
        report.count("entries")
        lh = leaf_hash(leaf)
        if lh != stated:
            report.fail("entry-altered", where, "leaf does not hash to its recorded leaf hash")
        if not verify_inclusion(lh, index, cp["size"], proof, cp["root"]):
            report.fail("entry-proof", where, "leaf is not in the signed log at this index "
                        "(inclusion proof fails): altered, moved or forged")
        try:
            event = parse_json(leaf)
            blobs = {name: (r["sha256"], r["size"]) for name, r in dict(event["blobs"]).items()}
            if not all(is_hex64(h) and is_int(n) for h, n in blobs.values()):
                raise ValueError("a file's sha256 or size is not a hash or an integer")
            if not same(event["index"], index):
                report.fail("entry-moved", where, f"leaf records index {event['index']}")
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            report.fail("entry-unreadable", where, f"leaf is not a valid event: {err}")
            continue
        if (why := event_problem(event)) is not None:
            report.fail("entry-malformed", where, f"leaf is not a valid event: {why}")
            continue
        found.append({"index": index, "hash": lh, "event": event, "blobs": blobs})
    return found


def verify_listed(listed: Any, found: list[dict[str, Any]], report: Report) -> None:
    """The bag holds exactly the entries the signed statement lists, in its order."""
    if not isinstance(listed, list) or not all(isinstance(i, list) and len(i) == 2
                                               and is_int(i[0]) for i in listed):
        return  # read_statement reported it
    wanted = [(i, str(h)) for i, h in listed]
    present = [(e["index"], e["hash"].hex()) for e in found]
    missing, extra = sorted(set(wanted) - set(present)), sorted(set(present) - set(wanted))
    copies = Counter(present)
    for (index, _), n in sorted(copies.items()):
        if n > 1:
            report.fail("entry-duplicate", f"entry {index}", f"{n} times in "
                        "data/ledger/entries.jsonl: each entry is in the bag once (copied)")
    for index, h in missing:
        report.fail("entry-removed", f"entry {index}", "listed in the signed export statement "
                    f"(leaf hash {h[:16]}…) but not in the bag, or altered")
    for index, _ in extra:
        report.fail("entry-added", f"entry {index}", "in the bag but not in the statement")
    if not missing and not extra and len(copies) == len(present) and present != wanted:
        report.fail("entry-order", "data/ledger/entries.jsonl", "entries are out of order")


def verify_complete(found: list[dict[str, Any]], scope: dict[str, Any], cp: dict[str, Any],
                    report: Report) -> None:
    """Each event of a claim names its claim's previous event (``prev_claim_leaf``): a dropped
    event breaks the chain. A claim's export starts at the claim's first event and ends with its
    own ``evidence.exported`` event, the last leaf of the signed checkpoint."""
    heads: dict[str, str | None] = {}
    claim = scope.get("claim") if isinstance(scope, dict) else None
    for e in sorted(found, key=lambda item: item["index"]):
        event, who = e["event"], e["event"].get("claim")
        if who is None or event.get("v", 1) < 2:
            heads[who] = e["hash"].hex() if who is not None else None
            continue
        if who in heads or who == claim:
            expected = heads.get(who)
            if event.get("prev_claim_leaf") != expected:
                report.fail("entry-chain", f"entry {e['index']}", "names "
                            f"{event.get('prev_claim_leaf') or 'no'} previous event of claim "
                            f"{who}, but the bag's is {expected or 'none'}: an event of the "
                            "claim is missing from this export")
        heads[who] = e["hash"].hex()
    if claim is None:
        return report.warn("export-range", "data/ledger/export.json", RANGE_NOTE)
    last = max(found, key=lambda item: item["index"])["event"] if found else {}
    if (last.get("index"), last.get("kind"), last.get("claim")) != (
            cp["size"] - 1, "evidence.exported", claim):
        report.fail("export-incomplete", f"claim {claim}", "the export does not end with its "
                    "own evidence.exported event as the last entry of the signed checkpoint: "
                    "the claim's latest events were left out")


def verify_files(bag: Path, actual: dict[str, tuple[str, int]], found: list[dict[str, Any]],
                 statement: dict[str, Any], report: Report) -> None:
    """Blobs against their events, nothing extra, the derived files against the statement."""
    referenced: dict[str, tuple[int, str]] = {}
    for e in found:
        for name, (digest, size) in e["blobs"].items():
            referenced.setdefault(digest, (size, f"entry {e['index']} file {name!r}"))
    for digest, (size, where) in sorted(referenced.items()):
        rel = f"data/blobs/{digest}"
        report.count("blobs")
        if rel not in actual:
            report.fail("blob-missing", f"{rel} ({where})", "not in the bag (removed)")
        elif actual[rel] != (digest, size):
            report.fail("blob-altered", f"{rel} ({where})", f"content hashes to {actual[rel][0]} "
                        f"({actual[rel][1]} bytes), recorded {digest} ({size} bytes)")
    for rel in sorted(actual):
        if rel.startswith("data/blobs/") and rel[len("data/blobs/"):] not in referenced:
            report.fail("blob-unreferenced", rel, "no exported event refers to this file (added)")
        elif rel.startswith("data/") and not rel.startswith("data/blobs/") and rel not in KNOWN:
            report.fail("bag-file-unexpected", rel, "not part of an evidence export (added)")
    files = statement.get("files") if isinstance(statement.get("files"), dict) else {}
    for rel in DERIVED:
        if actual.get(rel, ("",))[0] != files.get(rel):
            report.fail("bag-derived-altered", rel, "is not the file the signed export "
                        "statement names (edited, replaced or removed)")


def read_history(bag: Path, cp: dict[str, Any], statement: dict[str, Any],
                 report: Report) -> list[tuple[dict[str, Any], list[bytes]]]:
    """The earlier checkpoints of checkpoints.json with their consistency proofs: by strictly
    increasing size, each before the exported checkpoint, and exactly those the signed statement
    names (a v2 statement names none: its bag's list is checked only for order)."""
    rel = "data/ledger/checkpoints.json"
    raw = load_json(bag, rel, report)
    try:
        items = exact_fields(raw, ("checkpoints",), "it")["checkpoints"] if raw is not None else []
        if not isinstance(items, list):
            raise ValueError("its checkpoints are not a list")
        earlier = []
        for n, item in enumerate(items, 1):
            item = exact_fields(item, ("note", "consistency_proof"), f"checkpoint {n}")
            if not isinstance(item["note"], str):
                raise ValueError(f"checkpoint {n}: its note is not a string")
            earlier.append((parse_note(item["note"]),
                            hex_list(item["consistency_proof"], f"checkpoint {n}'s proof")))
    except (KeyError, TypeError, ValueError, binascii.Error) as err:
        report.fail("checkpoint-unreadable", rel, str(err))
        return []
    sizes = [old["size"] for old, _ in earlier]
    if any(a >= b for a, b in zip(sizes, sizes[1:], strict=False)):
        report.fail("checkpoint-history", rel, f"sizes {_sizes(sizes)} are not strictly "
                    "increasing: a checkpoint was duplicated or moved")
    if sizes and sizes[-1] >= cp["size"]:
        report.fail("checkpoint-history", rel, f"holds a checkpoint of size {max(sizes)}, not "
                    f"earlier than the exported one (size {cp['size']}): added")
    named = statement.get("checkpoints")
    named = named if isinstance(named, list) else []  # read_statement reported it
    if statement.get("type") == EXPORT_TYPE and named != [
            [old["size"], old["root"].hex()] for old, _ in earlier]:
        report.fail("checkpoint-history", rel, f"holds checkpoints of sizes {_sizes(sizes)}, "
                    "the signed export statement names sizes "
                    f"{_sizes([n[0] if isinstance(n, list) and n else n for n in named])}"
                    ": checkpoints removed, added, duplicated or reordered")
    return earlier


def _sizes(sizes: list[Any]) -> str:
    shown = ", ".join(str(s) for s in sizes[:12])
    return f"[{shown}{', …' if len(sizes) > 12 else ''}]"


def verify_bag_info(bag: Path, actual: dict[str, tuple[str, int]], cp: dict[str, Any] | None,
                    scope: Any, report: Report) -> None:
    """bag-info.txt holds exactly the lines an export writes (:func:`bag_info`): its
    Payload-Oxum that of the payload, the rest those of the checkpoint and the signed scope."""
    rel = "bag-info.txt"
    payload = [h for name, h in actual.items() if name.startswith("data/")]
    oxum = f"{sum(size for _, size in payload)}.{len(payload)}"
    try:
        text = read_bag(bag, rel).decode("utf-8")
    except FileNotFoundError:
        return report.fail("bag-info-missing", rel, "missing")
    except (OSError, UnicodeDecodeError) as err:
        return report.fail("bag-info", rel, "cannot read: " + (
            "not UTF-8 text" if isinstance(err, UnicodeDecodeError) else str(err)))
    why = scope_problem(scope)
    if cp is not None and scope is not None and why is not None:
        report.fail("bag-info", rel, f"cannot be checked: the statement's scope is malformed "
                    f"({why})")
    expected = dict(bag_info(cp["time"], cp["size"], cp["root"].hex(), oxum, scope)
                    if cp is not None and why is None else [("Payload-Oxum", oxum)])
    seen: dict[str, str] = {}
    labels = [label for label, _ in bag_info("", 0, "", "", {})]
    lines = text.split("\n")
    for n, line in enumerate(lines, 1):
        label, colon, value = line.partition(": ")
        if not line and n == len(lines):
            continue
        if not colon or label not in labels or label in seen:
            report.fail("bag-info", f"{rel} line {n}", f"not a line an export writes, or a "
                        f"repeated one: {line[:80]!r}")
        else:
            seen[label] = value
    for label, want in expected.items():
        if label == "Payload-Oxum" and seen.get(label) != want:
            report.fail("bag-oxum", rel, f"Payload-Oxum {seen.get(label) or 'missing'} but the "
                        f"payload is {want} (octets.files)")
        elif seen.get(label) != want:
            report.fail("bag-info", rel, f"{label} {seen.get(label, 'missing')!r} is not the "
                        f"export's {want[:90]!r} (edited)")


def verify_history(bag: Path, cp: dict[str, Any], key: Ed25519PublicKey | None,
                   saved: list[dict[str, Any]], statement: dict[str, Any],
                   report: Report) -> None:
    """Earlier checkpoints (in the bag, and saved by the auditor) are consistent with this one."""
    proofs: dict[tuple[int, bytes], list[bytes]] = {}
    for old, proof in read_history(bag, cp, statement, report):
        where = f"data/ledger/checkpoints.json size {old['size']} ({old['time']})"
        report.count("consistency proofs")
        if key is not None and not log_signature_ok(old, key):
            report.fail("checkpoint-signature", where, f"does not verify with key {report.key_id}")
        if not verify_consistency(old["size"], cp["size"], old["root"], cp["root"], proof):
            report.fail("checkpoint-inconsistent", where, "the exported log is not consistent "
                        "with this earlier checkpoint: the log was rewritten")
        proofs[(old["size"], old["root"])] = proof
    for old in saved:
        where = f"trusted checkpoint (size {old['size']}, {old['time']})"
        report.count("trusted checkpoints")
        if key is not None and not log_signature_ok(old, key):
            report.fail("checkpoint-signature", where, f"does not verify with key {report.key_id}")
        if old["size"] > cp["size"]:
            report.fail("checkpoint-inconsistent", where, f"is larger than the exported "
                        f"checkpoint (size {cp['size']}): this export is older than a checkpoint "
                        "you saved (an older export replayed), or the log was cut")
        elif not (old["root"] == cp["root"] if old["size"] == cp["size"] else any(
                verify_consistency(old["size"], cp["size"], old["root"], cp["root"], p)
                for (size, _), p in proofs.items() if size == old["size"])):
            report.fail("checkpoint-inconsistent", where, "the exported log is not consistent "
                        "with this checkpoint you saved earlier: the log was rewritten")


def verify_bag(path: str | Path, *, trusted_key: bytes | None = None,
               witness_keys: tuple[str, ...] = (), trust_bag_key: bool = False,
               saved_checkpoints: tuple[str, ...] = ()) -> Report:
    """Verify the bag at ``path``: ``trusted_key`` is a pinned PEM public key, ``witness_keys``
    pinned witness vkeys, ``saved_checkpoints`` checkpoint notes (or their JSON) kept earlier."""
    bag = Path(path)
    report = Report(f"evidence export {bag}")
    if not (bag / "bagit.txt").is_file():  # not a folder, or not a bag: nothing to walk
        report.fail("bag-missing", str(bag), "no bagit.txt: this is not an evidence export")
        return report
    actual = walk_bag(bag, report)
    verify_structure(bag, actual, report)
    pinned = pinned_key(trusted_key) if trusted_key is not None else None
    witnesses = [witness_key(v) for v in witness_keys]
    saved = [saved_checkpoint(s) for s in saved_checkpoints]
    key = choose_key(bag, pinned, report)
    cp = read_checkpoint(bag, report)
    statement = read_statement(bag, cp, key, report) if cp is not None else {}
    scope = statement.get("scope")
    verify_bag_info(bag, actual, cp, scope, report)
    if cp is None:
        return report
    check_trust(cp, key, pinned is not None, witnesses, trust_bag_key, report)
    found = verify_entries(bag, cp, report)
    verify_listed(statement.get("entries", []), found, report)
    verify_complete(found, scope if scope_problem(scope) is None else {}, cp, report)
    verify_files(bag, actual, found, statement, report)
    verify_history(bag, cp, key, saved, statement, report)
    return report


def _option_file(flag: str, name: str) -> bytes:
    """The file given to ``flag``, read and checked (:class:`BadOption` naming it)."""
    try:
        data = read_limited(Path(name))
        if flag == "--trusted-key":
            pinned_key(data)
        else:
            saved_checkpoint(data.decode("utf-8"))
        return data
    except OSError as err:
        raise BadOption(flag, f"{name}: cannot read: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise BadOption(flag, f"{name}: not UTF-8 text") from None
    except BadOption as err:
        raise BadOption(flag, f"{name}: {err.detail}") from None


def main(argv: list[str] | None = None) -> int:
    """The command line: prints the verdict and every problem; returns the exit status."""
    parser = argparse.ArgumentParser(description="Verify a Claimwright evidence export.")
    for flag, options in (("bag", {}), ("--trusted-key", {}), ("--trust-bag-key", STORE),
                          ("--json", STORE), ("--witness-key", MANY), ("--checkpoint", MANY)):
        parser.add_argument(flag, **options)
    args = parser.parse_args(argv)
    try:
        pinned = _option_file("--trusted-key", args.trusted_key) if args.trusted_key else None
        saved = tuple(_option_file("--checkpoint", c).decode("utf-8") for c in args.checkpoint)
        report = verify_bag(args.bag, trusted_key=pinned, witness_keys=tuple(args.witness_key),
                            trust_bag_key=args.trust_bag_key, saved_checkpoints=saved)
    except (OSError, ValueError) as err:  # BadOption: which option, and what is wrong
        return print(f"verify.py: {str(err)[:300]}", file=sys.stderr) or 2
    lines = [f"{report.subject}: {'FAILED' if report.problems else 'OK'}"] + [
        f"  PROBLEM {p['code']} {p['where']}: {p['message']}" for p in report.problems] + [
        f"  WARNING {w['code']} {w['where']}: {w['message']}" for w in report.warnings]
    print(json.dumps(report.to_json(), indent=2, ensure_ascii=False) if args.json
          else "\n".join(lines))
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())

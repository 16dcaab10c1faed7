"""The offline HTML index of an export: a timeline per claim, with screenshots, receipts, statuses.

Rendered deterministically from the bag's verified content (verification re-renders it and compares
byte for byte), with inline CSS and relative links only, so it opens from disk in any browser.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from jinja2 import Environment, select_autoescape

from evidence.model import Checkpoint, Entry, format_time

LABELS = {
    "bundle.built": "Bundle built",
    "submission.started": "Submission started",
    "submission.finished": "Submission finished",
    "submission.outcome_unknown": "Submission outcome unknown",
    "submission.reconciled": "Submission reconciled",
    "portal.screenshot": "Portal screenshot",
    "portal.receipt": "Portal receipt",
    "status.changed": "Status changed",
    "reminder.sent": "Reminder sent",
    "payment.matched": "Payment matched",
    "evidence.exported": "Evidence exported",
}

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Evidence — {{ title }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{border-bottom:2px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4em;
vertical-align:top;text-align:left}th{background:#f4f4f4}code{font-size:.85em;word-break:break-all}
.kind{font-weight:600}.status{background:#eef6ee}.meta dt{font-weight:600;float:left;clear:left;
margin-right:.5em}.meta dd{margin:0}img{max-width:32em;border:1px solid #ccc;display:block;
margin:.3em 0}.box{background:#f8f8f8;border:1px solid #ddd;padding:.8em}
</style>
</head>
<body>
<h1>Evidence export — {{ title }}</h1>
<div class="box">
<p>Signed checkpoint: <b>{{ checkpoint.tree_size }}</b> log entries at {{ checkpoint.time }},
root hash <code>{{ checkpoint.root_hash.hex() }}</code>.</p>
<p>Signing key id (SHA-256 of the Ed25519 public key in <code>keys/signing.pub</code>):
<code>{{ checkpoint.key_id }}</code>. Compare it with the key id you were given.</p>
<p>{{ entries|length }} event(s) for {{ claims|length }} claim group(s) below. Each event carries an
inclusion proof against the checkpoint (<code>ledger/entries.jsonl</code>). Check the whole bag
with <code>claims evidence verify-export &lt;this folder&gt;</code>; this page is a view of it and
is itself covered by the check.</p>
</div>
{% for claim, items in claims %}
<h2>{{ claim if claim is not none else "Events without a claim" }}</h2>
<table>
<tr><th>#</th><th>Time (UTC)</th><th>Event</th><th>By</th><th>Details</th><th>Files</th></tr>
{% for e in items %}
<tr class="{{ 'status' if e.kind == 'status.changed' else '' }}">
<td>{{ e.index }}</td><td>{{ e.time }}</td>
<td class="kind">{{ e.label }}</td><td>{{ e.actor }}</td>
<td><dl class="meta">{% for k, v in e.metadata %}<dt>{{ k }}</dt><dd>{{ v }}</dd>{% endfor %}
</dl></td>
<td>{% for f in e.files %}{% if f.image %}
<a href="{{ f.href }}"><img src="{{ f.href }}" alt="{{ f.name }}"></a>{% endif %}
<a href="{{ f.href }}" download="{{ f.name }}" type="{{ f.media_type }}">{{ f.name }}</a>
({{ f.size }} bytes, sha256 <code>{{ f.sha256[:16] }}…</code>)<br>
{% endfor %}</td>
</tr>
{% endfor %}
</table>
{% endfor %}
</body>
</html>
"""

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True),
                   keep_trailing_newline=True)
_template = _env.from_string(_TEMPLATE)


def _value(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True)


def render_index(title: str, entries: Sequence[Entry], checkpoint: Checkpoint) -> bytes:
    """The index page for ``entries`` (in log order) under ``checkpoint``, as UTF-8 bytes."""
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for e in entries:
        groups.setdefault(e.claim, []).append({
            "index": e.index, "time": format_time(e.time).replace("T", " ").rstrip("Z")[:19],
            "label": LABELS.get(e.kind, e.kind), "kind": e.kind, "actor": e.actor,
            "metadata": [(k, _value(v)) for k, v in sorted(e.metadata.items())],
            "files": [{"name": name, "href": f"blobs/{ref.sha256}", "size": ref.size,
                       "sha256": ref.sha256, "media_type": ref.media_type,
                       "image": ref.media_type.startswith("image/")}
                      for name, ref in sorted(e.blobs.items())],
        })
    claims = sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
    return _template.render(title=title, entries=entries, claims=claims,
                            checkpoint=checkpoint).encode("utf-8")

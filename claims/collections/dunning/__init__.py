"""Dunning: which reminder is due for which item, and sending each exactly once.

How "exactly once" works (and its one trade-off):

1. The items due, and the highest level due for each, come from one SQL statement. An item is
   due at a level when the level's day is reached, no higher-or-equal level was sent for it, and
   nothing pauses it (open dispute, unbroken promise, plan in good standing). After an outage
   only the highest level now due is sent, never every missed one.
2. Items are grouped per customer and level: one message (a statement) per group.
3. Before talking to the SMTP server, a ``dunning_sends`` row (state ``sending``) and its items
   are committed. ``dunning_send_items`` is unique per (invoice, instalment, level), so a second
   run — even a concurrent one on another machine — cannot reserve the same item and level.
4. After the server accepted the message the row becomes ``sent`` and the ``.eml`` is kept. If
   the server refused or dropped the connection, the row is deleted: the reminder stays due.
5. A crash between 3 and 4 leaves a ``sending`` row. We cannot know whether the server got the
   message, so it is NOT resent blindly (that could send twice); every run reports it as
   ``stuck`` until someone checks the mailbox and runs ``claims followup resolve ID --sent`` or
   ``--not-sent``. We prefer a reminder held back for a day over one sent twice.
6. Each reservation names its run (``run_owner`` = host:pid:uuid) and carries a lease
   (``lease_expires_at``, ``[followup] send_lease_seconds``) that the run's heartbeat renews
   every quarter lease. A second, overlapping run skips the items a live run holds and lists
   them as ``in_flight``; only a ``sending`` row whose lease ran out (its run died) is
   ``stuck``, and ``resolve`` refuses a row whose lease is still running.

The work is split by step: :mod:`.plan` (what is due, for whom), :mod:`.render` (templates and
the MIME message) and :mod:`.send` (reserve, send, confirm; stuck sends). The names below are
the public API.
"""

from __future__ import annotations

from claims.collections.dunning.plan import Message, config_of, due_items, plan_messages
from claims.collections.dunning.render import build_email, render, template_environment
from claims.collections.dunning.send import (
    Mailer, RunResult, SendFailed, in_flight_sends, resolve_stuck, run, sent_history,
    stuck_sends,
)

__all__ = [
    "Mailer", "Message", "RunResult", "SendFailed", "build_email", "config_of", "due_items",
    "in_flight_sends", "plan_messages", "render", "resolve_stuck", "run", "sent_history",
    "stuck_sends", "template_environment",
]

"""A customer's contacts: list, edit, remove; and the languages a contact may have, which are
those with reminder templates (the built-in ones and the workspace's own ``templates_dir``).

A language without templates would stop a reminder run on a missing template: it is refused
when a contact is added or edited, and ``followup run --dry-run`` names such a contact's
customer as a problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from claims.collections.records import check_address, customer_row
from claims.errors import InputError, NotFound, UnknownName
from claims.store import Store
from claims.store.tables import ContactRow, CustomerRow

#: the built-in templates, one folder per language
TEMPLATES = Path(__file__).resolve().parent / "templates"
ROLES = ("finance", "other")


def available_languages(templates_dir: str, root: Path) -> list[str]:
    """Languages with reminder templates: a folder of the built-ins or of ``templates_dir``
    (relative to the workspace ``root``) holding at least one template."""
    folders = [TEMPLATES]
    if templates_dir:
        own = Path(templates_dir)
        folders.append(own if own.is_absolute() else root / own)
    found = set()
    for folder in folders:
        if folder.is_dir():
            found |= {p.name for p in folder.iterdir()
                      if p.is_dir() and any(p.glob("*.j2"))}
    return sorted(found)


def check_language(language: str, languages: list[str]) -> str:
    """``language`` if reminders can be written in it, else a clear error."""
    if language not in languages:
        raise UnknownName("language", language, languages, field="language")
    return language


def _json(row: ContactRow, customer: str) -> dict[str, Any]:
    return {"id": row.id, "customer": customer, "name": row.name, "email": row.email,
            "phone": row.phone, "role": row.role, "language": row.language}


def list_contacts(store: Store, customer: str | None = None) -> list[dict[str, Any]]:
    """Contacts (of one customer, or all), by customer then id."""
    with store.session() as s:
        query = (select(ContactRow, CustomerRow.name)
                 .join(CustomerRow, CustomerRow.id == ContactRow.customer_id)
                 .order_by(CustomerRow.name, ContactRow.id))
        if customer:
            query = query.where(ContactRow.customer_id == customer_row(s, customer).id)
        return [_json(row, name) for row, name in s.execute(query)]


def edit_contact(store: Store, contact_id: int, *, languages: list[str],
                 **changes: Any) -> dict[str, Any]:
    """Change a contact's name, email, phone, role or language (``None`` leaves a field)."""
    fields = {k: v for k, v in changes.items() if v is not None}
    unknown = set(fields) - {"name", "email", "phone", "role", "language"}
    if unknown:
        raise InputError(f"cannot change {sorted(unknown)}", field="contact", rule="fields")
    if not fields:
        raise InputError("nothing to change", field="contact", rule="one-of")
    if "name" in fields and not fields["name"].strip():
        raise InputError("the name is empty", field="name", rule="non-empty")
    if fields.get("email"):
        fields["email"] = check_address(fields["email"], field="email")
    if "role" in fields and fields["role"] not in ROLES:
        raise UnknownName("role", fields["role"], ROLES, field="role")
    if "language" in fields:
        check_language(fields["language"], languages)
    with store.session() as s:
        row = s.get(ContactRow, contact_id)
        if row is None:
            raise NotFound("contact", contact_id)
        for key, value in fields.items():
            setattr(row, key, value or None if key in ("email", "phone") else value)
        name = s.get(CustomerRow, row.customer_id).name  # type: ignore[union-attr]
        return _json(row, name)


def remove_contact(store: Store, contact_id: int) -> dict[str, Any]:
    """Remove a contact (interactions keep the name they were logged with)."""
    with store.session() as s:
        row = s.get(ContactRow, contact_id)
        if row is None:
            raise NotFound("contact", contact_id)
        name = s.get(CustomerRow, row.customer_id).name  # type: ignore[union-attr]
        entry = _json(row, name)
        s.delete(row)
        return entry

"""The cyclic garbage collector is paused only around the block (the worklist's computation):
off inside, back as it was after, also when the block raises."""

from __future__ import annotations

import gc
from datetime import date

import pytest

from claims.collections import worklist
from claims.core.collector import collector_paused
from claims.workspace import Workspace


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_only_inside_the_block(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        with collector_paused():
            assert not gc.isenabled()
            with collector_paused():  # nested: the inner block leaves it off
                pass
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
        with pytest.raises(RuntimeError), collector_paused():
            raise RuntimeError("the computation failed")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_the_worklist_builds_its_accounts_with_the_collector_paused(
        workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    accounts = worklist._accounts

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(gc.isenabled())
        return accounts(*args, **kwargs)

    monkeypatch.setattr(worklist, "_accounts", spy)
    was = gc.isenabled()
    gc.enable()
    try:
        assert worklist.worklist(workspace, date(2026, 6, 30)) == []
        assert seen == [False] and gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()

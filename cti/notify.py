"""Pushes call changes to the agents' consoles (implemented by the console side of CTI)."""

from __future__ import annotations


def call_changed(call_id: int) -> None:
    """Push the current card of call ``call_id`` to the consoles that must show it.

    Placeholder until the console push is implemented: services call it on commit after
    every change of a call.
    """

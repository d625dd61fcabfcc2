"""Server texts said as message keys with their values, which the pages put in the reader's language.

One place for the incident timeline and the audit trail, which record the same transitions: both show a
system entry by its key, never by the English note kept for notifiers and exports.
"""

from __future__ import annotations

from typing import Any

from domain.incident import SYSTEM_ACTOR


def timeline_message(kind: str, actor: str | None, detail: dict[str, Any]) -> dict[str, Any]:
    """Say a timeline entry as a message key and its values, which the pages put in the reader's language.

    ``key`` is ``timeline.<kind>`` (raised, evidence, escalated, acknowledge, resolve...); in ``params`` a name
    ending in ``_key`` holds a message key itself (the signal's kind, the outcome, the chain level) and one
    ending in ``_s`` a duration in seconds. ``note`` stays what a person wrote; a system entry's note (an
    escalation's reason, in English for the audit trail) is said by the key instead, so ``show_note`` is false.
    """
    params: dict[str, Any] = {}
    if isinstance(detail.get("kind"), str):
        params["signal_key"] = f"signal.{detail['kind']}"
    if isinstance(detail.get("outcome"), str):
        params["outcome_key"] = f"outcome.{detail['outcome']}"
    if isinstance(detail.get("recipients"), str):
        params["recipients_key"] = f"chain.{detail['recipients']}"
    if isinstance(detail.get("level"), int):
        params["level"] = detail["level"]
    if isinstance(detail.get("after_s"), int | float):
        params["after_s"] = detail["after_s"]
    if isinstance(detail.get("severity_to"), str):
        params["severity_key"] = f"severity.{detail['severity_to']}"
    key = f"timeline.{kind}"
    if kind == "escalated" and "after_s" in params:
        key = "timeline.escalated_after"
    elif kind == "evidence" and "severity_key" in params:
        key = "timeline.evidence_raised"
    return {"key": key, "params": params, "show_note": actor != SYSTEM_ACTOR}

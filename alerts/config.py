"""The alert stage's settings section (``CAMPUSGUARD_ALERTS__*``): rules file, escalation, notifiers.

A plain pydantic model: the composition root reads it from the environment; nothing here does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from alerts.escalation import EscalationPolicy
from alerts.notifiers import NotifierConfig


class AlertSettings(BaseModel):
    """How events become incidents, who is told and when it escalates."""

    model_config = ConfigDict(extra="forbid")

    rules_file: Annotated[
        Path | None, Field(description="Alert rules YAML; the shipped alerts/default_rules.yaml when unset.")
    ] = None
    escalation: EscalationPolicy = Field(default_factory=EscalationPolicy)
    notifiers: Annotated[
        list[NotifierConfig],
        Field(description="Where notifications go (webhook, email, mqtt, cap); demo mode adds MQTT out."),
    ] = Field(default_factory=list)

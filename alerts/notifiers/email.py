"""Email notifier: a plain-text and HTML message over SMTP (STARTTLS, implicit TLS or none; login optional).

Messages about one incident thread together in mail clients: later events refer (``In-Reply-To``) to the
``Message-ID`` of the "raised" message, which is derived from the incident id rather than stored.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from html import escape
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator

from alerts.notifiers.base import Notification, Notifier, NotifierConfigBase, PermanentError, RetryableError

# SMTP replies that name a permanent problem with the account or address, whatever their class says.
_PERMANENT_CODES = frozenset({530, 534, 535, 538})


class EmailConfig(NotifierConfigBase):
    """Send each notification as an email through an SMTP server."""

    type: Literal["email"] = Field(description="Selects the email notifier.")
    host: str = Field(description="SMTP server host name.")
    port: int = Field(587, ge=1, le=65535, description="SMTP port: 587 for STARTTLS, 465 for TLS, 25 for none.")
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="STARTTLS upgrade, TLS from the first byte (SMTPS), or none (trusted relay only)."
    )
    username: str | None = Field(None, description="Login name, when the server requires login.")
    password: SecretStr | None = Field(None, description="Login password; required with username.")
    sender: str = Field(description="From address, e.g. 'Campus Safety <safety@district.example.org>'.")
    to: tuple[str, ...] = Field((), description="Addresses that receive every notification.")
    include_recipients: bool = Field(
        True, description="Also send to the notification's own recipients that are email addresses."
    )
    subject_prefix: str = Field("[campusguard]", description="Start of every subject line.")
    timeout_s: float = Field(15.0, gt=0, le=120, description="Limit for each SMTP operation.")

    @model_validator(mode="after")
    def _login_is_consistent(self) -> Self:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        if self.username is not None and self.security == "none":
            raise ValueError("login without TLS would send the password in clear text; use starttls or tls")
        if "@" not in parseaddr(self.sender)[1]:
            raise ValueError(f"sender is not an email address: {self.sender!r}")
        return self


def recipients(notification: Notification, config: EmailConfig) -> list[str]:
    """Everyone this message goes to, in order, without duplicates."""
    extra = [r for r in notification.recipients if "@" in r] if config.include_recipients else []
    return list(dict.fromkeys([*config.to, *extra]))


def subject(notification: Notification, config: EmailConfig) -> str:
    """``[campusguard] DRILL [CRITICAL] Panic button pressed (raised)``: severity first, for inbox rules."""
    drill = " DRILL" if notification.drill else ""
    n = notification
    return f"{config.subject_prefix}{drill} [{n.severity.upper()}] {n.title} ({n.event})"


def _message_id(notification: Notification, domain: str, *, raised: bool) -> str:
    if raised:
        return f"<campusguard.incident-{notification.incident_id}.raised@{domain}>"
    stamp = notification.at.strftime("%Y%m%dT%H%M%S%f")
    return f"<campusguard.incident-{notification.incident_id}.{notification.event}.{stamp}@{domain}>"


def _facts(n: Notification) -> list[tuple[str, str]]:
    facts = [
        ("Event", n.event + (f" (level {n.level})" if n.level else "")),
        ("Severity", n.severity),
        ("Status", n.status),
        ("School", n.school_name or n.school_id),
        ("Type", n.type),
        ("Opened", n.opened_at.isoformat()),
        ("Incident", str(n.incident_id)),
    ]
    if n.lat is not None and n.lon is not None:
        facts.append(("Location", f"{n.lat:.6f}, {n.lon:.6f}"))
    return facts


def _map_link(n: Notification) -> str | None:
    if n.lat is None or n.lon is None:
        return None
    return f"https://www.openstreetmap.org/?mlat={n.lat:.6f}&mlon={n.lon:.6f}#map=18/{n.lat:.6f}/{n.lon:.6f}"


def build_message(notification: Notification, config: EmailConfig) -> EmailMessage:
    """Build the message (pure): headers, a plain-text body and its HTML alternative."""
    n = notification
    domain = parseaddr(config.sender)[1].rpartition("@")[2]
    msg = EmailMessage()
    msg["Subject"] = subject(n, config)
    msg["From"] = config.sender
    msg["To"] = ", ".join(recipients(n, config))
    msg["Date"] = format_datetime(n.at)
    msg["Message-ID"] = _message_id(n, domain, raised=n.event == "raised")
    if n.event != "raised":
        msg["In-Reply-To"] = msg["References"] = _message_id(n, domain, raised=True)
    msg["X-Campusguard-Incident"] = str(n.incident_id)

    drill_line = ["THIS IS A DRILL.", ""] if n.drill else []
    link = _map_link(n)
    text = [*drill_line, n.title, "", *(f"{k + ':':<10} {v}" for k, v in _facts(n))]
    if link:
        text.append(f"{'Map:':<10} {link}")
    if n.message:
        text += ["", n.message]
    msg.set_content("\n".join(text) + "\n")

    rows = "".join(f"<tr><th align='left'>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in _facts(n))
    if link:
        rows += f"<tr><th align='left'>Map</th><td><a href='{escape(link)}'>open map</a></td></tr>"
    html = (
        "<html><body>"
        + ("<p><strong>THIS IS A DRILL.</strong></p>" if n.drill else "")
        + f"<h2>{escape(n.title)}</h2><table>{rows}</table>"
        + (f"<p>{escape(n.message)}</p>" if n.message else "")
        + "</body></html>"
    )
    msg.add_alternative(html, subtype="html")
    return msg


class EmailNotifier(Notifier[EmailConfig]):
    """SMTP, one connection per notification (alerts are rare; a held connection would go stale)."""

    type_key = "email"
    config_class = EmailConfig

    def prepare(self, notification: Notification) -> Callable[[], str | None]:
        """Build the message once; each attempt connects, upgrades, logs in and sends."""
        to = recipients(notification, self.config)
        if not to:
            raise PermanentError("no email recipients: neither the config's 'to' nor the notification name any")
        message = build_message(notification, self.config)
        return lambda: self._send(message, to)

    def _send(self, message: EmailMessage, to: list[str]) -> str | None:
        cfg = self.config
        try:
            with self._connect() as smtp:
                if cfg.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if cfg.username is not None and cfg.password is not None:
                    smtp.login(cfg.username, cfg.password.get_secret_value())
                refused = smtp.send_message(message, to_addrs=to)
        except smtplib.SMTPRecipientsRefused as exc:
            raise _classify_refusals(exc.recipients) from exc
        except smtplib.SMTPResponseException as exc:
            raise _classify_reply(exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPNotSupportedError, ssl.SSLCertVerificationError) as exc:
            raise PermanentError(f"SMTP {cfg.host}:{cfg.port}: {exc}") from exc
        except OSError as exc:  # refused, unreachable, timed out, disconnected (SMTPServerDisconnected)
            raise RetryableError(f"SMTP {cfg.host}:{cfg.port}: {type(exc).__name__}: {exc}") from exc
        if refused:
            # Some got it: retrying would send them a second copy, so this is a success with a note.
            return "refused by the server: " + "; ".join(f"{a} ({c})" for a, (c, _) in refused.items())
        return None

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        if cfg.security == "tls":
            return smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_s, context=ssl.create_default_context())
        return smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s)


def _classify_reply(code: int, text: bytes | str) -> RetryableError | PermanentError:
    words = text.decode(errors="replace") if isinstance(text, bytes) else text
    message = f"SMTP {code} {words}"
    return PermanentError(message) if code >= 500 or code in _PERMANENT_CODES else RetryableError(message)


def _classify_refusals(refused: dict[str, tuple[int, bytes]]) -> RetryableError | PermanentError:
    detail = "; ".join(f"{a}: {c} {t.decode(errors='replace')}" for a, (c, t) in refused.items())
    # Every recipient was refused; if any refusal was temporary, a later attempt may get through.
    if any(code < 500 for code, _ in refused.values()):
        return RetryableError(f"all recipients refused: {detail}")
    return PermanentError(f"all recipients refused: {detail}")

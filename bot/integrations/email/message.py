"""An email row's arguments checked and turned into the message that is sent.

The row (``bot.domain.outbox.EMAIL``, method ``send``) carries ``to`` (a list of addresses),
``subject`` and ``body`` (plain text). Anything that could rewrite the message's headers (a
line break in the subject or an address) or address it somewhere unintended (two addresses
in one item) is refused here, before any server is contacted.

The Message-ID is derived from the arguments, so every attempt of one row carries the same
one and a mail system that saw an earlier attempt arrive can drop the copy. Two rows with
identical content get the same id too; the bodies firebreak writes name the incident, the
level and the time left, so they differ in practice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from bot.domain.incident import JSON

# RFC 5322 caps a line at 998 characters; a subject longer than this is a bug upstream.
MAX_SUBJECT = 900
MAX_RECIPIENTS = 100
MAX_BODY = 1_000_000


class InvalidEmail(ValueError):
    """The row's arguments cannot make a safe message; the text says why."""


@dataclass(frozen=True, slots=True)
class Email:
    """A checked email: recipients as addresses, a one-line subject, a plain-text body."""

    to: tuple[Address, ...]
    subject: str
    body: str


def parse_address(text: object, *, what: str = "address") -> Address:
    """One address, ``user@example.com`` or ``Name <user@example.com>``; ``InvalidEmail``
    otherwise (line breaks, lists, a missing domain)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidEmail(f"{what} is empty or not text")
    if "\r" in text or "\n" in text:
        raise InvalidEmail(f"{what} contains a line break")
    value = text.strip()
    name = ""
    if value.endswith(">") and "<" in value:
        cut = value.rindex("<")
        name, value = value[:cut].strip().strip('"').strip(), value[cut + 1 : -1].strip()
    try:
        address = Address(display_name=name, addr_spec=value)
    except (ValueError, IndexError) as exc:
        raise InvalidEmail(f"{what} {text[:80]!r} is not an email address") from exc
    if not address.username or not address.domain:
        raise InvalidEmail(f"{what} {text[:80]!r} is not an email address")
    return address


def parse_args(args: JSON) -> Email:
    """The row's ``to``, ``subject`` and ``body``, checked."""
    to = args.get("to")
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list) or not to:
        raise InvalidEmail("no recipient: 'to' must be a non-empty list of addresses")
    if len(to) > MAX_RECIPIENTS:
        raise InvalidEmail(f"too many recipients ({len(to)} > {MAX_RECIPIENTS})")
    addresses = tuple(parse_address(item, what="recipient") for item in to)
    subject = args.get("subject", "")
    if not isinstance(subject, str):
        raise InvalidEmail("subject is not text")
    if "\r" in subject or "\n" in subject:
        raise InvalidEmail("subject contains a line break")
    if len(subject) > MAX_SUBJECT:
        raise InvalidEmail(f"subject is longer than {MAX_SUBJECT} characters")
    body = args.get("body", "")
    if not isinstance(body, str):
        raise InvalidEmail("body is not text")
    if len(body) > MAX_BODY:
        raise InvalidEmail(f"body is longer than {MAX_BODY} characters")
    return Email(to=addresses, subject=subject, body=body)


def message_id(sender: Address, email: Email) -> str:
    """The same ``<…@domain>`` for the same sender and content, whichever attempt sends it."""
    canonical = json.dumps(
        {
            "from": sender.addr_spec,
            "to": [a.addr_spec for a in email.to],
            "subject": email.subject,
            "body": email.body,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:40]
    return f"<{digest}.firebreak@{sender.domain}>"


def build_message(sender: Address, email: Email, *, at: datetime) -> EmailMessage:
    """The message as sent: From, To, Subject, Date, Message-ID and a UTF-8 text body."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = format_datetime(at)
    message["Message-ID"] = message_id(sender, email)
    # RFC 3834: a machine wrote this; vacation responders should not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.body, charset="utf-8")
    return message

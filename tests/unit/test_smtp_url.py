"""FIREBREAK_SMTP_URL: each accepted form read into the server value, each mistake a
ConfigError that names it and never repeats the password."""

from __future__ import annotations

import pytest

from bot.errors import ConfigError
from bot.integrations.email.smtp_url import Security, SmtpServer, parse_smtp_url

SECRET = "s3cr3t-Pa55"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com:2525", SmtpServer("mail.example.com", 2525)),
        ("smtp://mail.example.com", SmtpServer("mail.example.com", 25)),
        ("SMTP://Mail.Example.com:25/", SmtpServer("mail.example.com", 25)),
        (
            "smtp://mail.example.com?starttls=true",
            SmtpServer("mail.example.com", 587, Security.STARTTLS),
        ),
        (
            "smtp://mail.example.com:25?starttls=1",
            SmtpServer("mail.example.com", 25, Security.STARTTLS),
        ),
        ("smtp://mail.example.com:25?starttls=false", SmtpServer("mail.example.com", 25)),
        ("smtps://mail.example.com", SmtpServer("mail.example.com", 465, Security.TLS)),
        ("smtps://127.0.0.1:1465", SmtpServer("127.0.0.1", 1465, Security.TLS)),
        ("smtp://[::1]:2525", SmtpServer("::1", 2525)),
        ("  smtp://relay:25\n", SmtpServer("relay", 25)),
    ],
)
def test_accepted_forms(url: str, expected: SmtpServer) -> None:
    assert parse_smtp_url(url) == expected


def test_user_and_password_from_the_url_are_percent_decoded() -> None:
    server = parse_smtp_url("smtps://alerts%40example.com:p%40ss%2Fw%3Ard@mail.example.com")
    assert (server.user, server.password) == ("alerts@example.com", "p@ss/w:rd")
    assert server.security is Security.TLS


def test_user_and_password_from_their_own_settings() -> None:
    server = parse_smtp_url("smtp://mail:587?starttls=true", user="bot", password=SECRET)
    assert (server.user, server.password) == ("bot", SECRET)


def test_the_same_value_in_both_places_is_accepted() -> None:
    server = parse_smtp_url(f"smtps://bot:{SECRET}@mail", user="bot", password=SECRET)
    assert (server.user, server.password) == ("bot", SECRET)


def test_url_user_with_password_from_its_setting() -> None:
    server = parse_smtp_url("smtps://bot@mail", password=SECRET)
    assert (server.user, server.password) == ("bot", SECRET)


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "localhost", "127.0.0.53"])
def test_a_login_over_plain_smtp_is_allowed_on_loopback(host: str) -> None:
    server = parse_smtp_url(f"smtp://bot:{SECRET}@{host}:2525")
    assert server.security is Security.PLAIN
    assert server.user == "bot"


@pytest.mark.parametrize(
    "url", ["smtp://bot@relay.example.com:587", "smtp://bot@10.0.0.7", "smtp://bot@mail"]
)
def test_a_login_over_plain_smtp_to_another_machine_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="password would cross the network in clear") as info:
        parse_smtp_url(url, password=SECRET)
    assert SECRET not in str(info.value)


def test_the_password_is_never_shown() -> None:
    server = parse_smtp_url(f"smtp://bot:{SECRET}@mail:2525?starttls=true")
    assert SECRET not in repr(server)
    assert SECRET not in str(server)
    assert str(server) == "smtp://bot@mail:2525?starttls=true"


@pytest.mark.parametrize(
    ("url", "kwargs", "names"),
    [
        ("mail.example.com:25", {}, "smtp://host:port"),
        ("http://mail.example.com", {}, "not http://"),
        ("smtp://:25", {}, "names no host"),
        ("smtp://mail:0", {}, "1 to 65535"),
        ("smtp://mail:99999", {}, "port"),
        ("smtp://mail:twenty", {}, "port"),
        (f"smtp://bot:{SECRET}@mail:2x5", {}, "port"),
        ("smtp://mail/inbox", {}, "path"),
        ("smtp://mail#frag", {}, "fragment"),
        ("smtp://mail?tls=true", {}, "unknown option 'tls'"),
        ("smtp://mail?starttls=maybe", {}, "true or false"),
        ("smtp://mail?starttls=true&starttls=true", {}, "twice"),
        ("smtps://mail?starttls=true", {}, "TLS from the start"),
        (f"smtp://:{SECRET}@mail", {}, "no user"),
        ("smtp://mail", {"password": SECRET}, "no user"),
        ("smtp://bot@mail", {}, "no password"),
        ("smtp://mail", {"user": "bot"}, "no password"),
        ("smtp://bot:x@mail", {"user": "other"}, "user is given both"),
        (f"smtp://bot:{SECRET}@mail", {"password": "other"}, "password is given both"),
        (f"smtp://bot:{SECRET}/x@mail", {}, "percent-encode"),
    ],
)
def test_mistakes_are_named_without_the_password(
    url: str, kwargs: dict[str, str], names: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_smtp_url(url, **kwargs)
    message = str(raised.value)
    assert names in message
    assert SECRET not in message
    assert "FIREBREAK_SMTP" in message

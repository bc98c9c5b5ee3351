"""Where ``firebreak drill`` sends its switch: the flag, then the environment, then the
launcher's env file, then the LNN service's default."""

from __future__ import annotations

from bot.drill import DEFAULT_LNN_URL, LNN_URL_VARIABLE, TOKEN_VARIABLE, lnn_endpoint

FILE = {LNN_URL_VARIABLE: "http://127.0.0.1:18090/", TOKEN_VARIABLE: "from-file"}
ENVIRON = {LNN_URL_VARIABLE: "http://127.0.0.1:28090", TOKEN_VARIABLE: "from-env"}


def test_the_flag_wins_then_the_environment_then_the_env_file() -> None:
    assert lnn_endpoint("http://lnn:8090/", ENVIRON, FILE) == ("http://lnn:8090", "from-env")
    assert lnn_endpoint(None, ENVIRON, FILE) == ("http://127.0.0.1:28090", "from-env")
    assert lnn_endpoint(None, {}, FILE) == ("http://127.0.0.1:18090", "from-file")


def test_without_any_setting_the_default_url_and_no_token() -> None:
    assert lnn_endpoint(None, {}, {}) == (DEFAULT_LNN_URL, None)
    assert lnn_endpoint(None, {TOKEN_VARIABLE: ""}, {}) == (DEFAULT_LNN_URL, None)

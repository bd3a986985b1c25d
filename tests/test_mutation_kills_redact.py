"""Redaction, stated exactly: what a log line, a body, a URL or a header repr shows (benchmarks/MUTATION.md).

``resilience._redact``: headers by allowlist, JSON keys by pattern, bodies summarised when they
are too big or not JSON, URLs without query values, and the live credentials of every holder
scrubbed from text and log records for as long as the holder lives.
"""

from __future__ import annotations

import gc
import logging
import uuid
from collections.abc import Iterable, Iterator
from typing import cast

import httpx
import pytest

from resilience import REDACTED, redact_body, redact_headers
from resilience._redact import (
    _HTTPX_FILTER,
    _SDK_FILTER,
    _scrub,
    _ScrubFilter,
    hold_secrets,
    install_log_filters,
    live_secrets,
    mask_header_repr,
    redact_url,
    scrub_secrets,
)


class Holder:
    """Something that holds credentials, as an auth scheme or a client config does."""

    def __init__(self, *values: object) -> None:
        self.values = list(values)

    def _secret_values(self) -> Iterable[str]:
        return cast("Iterable[str]", self.values)  # non-strings too, on purpose


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


@pytest.fixture
def holder() -> Iterator[Holder]:
    h = Holder()
    yield h
    del h
    gc.collect()


def record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("resilience.test", logging.INFO, __file__, 1, msg, args or None, None)


# --------------------------------------------------------------------------------------------------- headers


def test_headers_keep_allowlisted_values_whatever_their_case() -> None:
    headers = [("Content-Type", "application/json"), ("X-Request-ID", "r-1"), ("Authorization", "Bearer t"),
               ("X-Api-Key", "k"), ("location", "https://signed")]  # fmt: skip
    assert redact_headers(headers) == {
        "Content-Type": "application/json",
        "X-Request-ID": "r-1",
        "Authorization": REDACTED,
        "X-Api-Key": REDACTED,
        "location": REDACTED,
    }


def test_headers_allowlist_can_be_given() -> None:
    assert redact_headers([("A", "1"), ("b", "2"), ("Accept", "x")], safe=frozenset({"a", "b"})) == {
        "A": "1",
        "b": "2",
        "Accept": REDACTED,
    }


# --------------------------------------------------------------------------------------------------- live credentials


def test_a_held_credential_is_scrubbed_from_text(holder: Holder) -> None:
    secret = unique("sk-live")
    holder.values = [secret]
    hold_secrets(holder)
    assert scrub_secrets(f"key={secret}; again {secret}.") == f"key={REDACTED}; again {REDACTED}."
    assert scrub_secrets("nothing here") == "nothing here"
    assert scrub_secrets("") == ""


def test_only_string_credentials_of_four_characters_or_more_are_scrubbed(holder: Holder) -> None:
    four, three = unique("q")[:4], "zq7"
    holder.values = [four, three, None, b"bytes-secret", 12345]
    hold_secrets(holder)
    secrets = live_secrets()
    assert four in secrets
    assert three not in secrets
    assert all(isinstance(s, str) for s in secrets)
    assert scrub_secrets(f"{four} {three}") == f"{REDACTED} {three}"


def test_a_longer_credential_is_scrubbed_before_one_it_contains(holder: Holder) -> None:
    short = unique("zz")  # sorts after the longer one: only the length puts that one first
    long = "aa-" + short
    holder.values = [short, long]
    hold_secrets(holder)
    secrets = live_secrets()
    assert secrets.index(long) < secrets.index(short)
    assert scrub_secrets(f"<{long}>") == f"<{REDACTED}>"


def test_every_live_holders_credentials_are_scrubbed(holder: Holder) -> None:
    first, second = unique("sk-first"), unique("sk-second")
    holder.values = [first]
    other = Holder(second)
    hold_secrets(holder)
    hold_secrets(other)
    assert scrub_secrets(f"{first} {second}") == f"{REDACTED} {REDACTED}"
    del other


class CountingHolder(Holder):
    def __init__(self, *values: object) -> None:
        super().__init__(*values)
        self.asked = 0

    def _secret_values(self) -> Iterable[str]:
        self.asked += 1
        return super()._secret_values()


def test_the_live_credentials_are_gathered_once_until_a_holder_changes() -> None:
    gc.collect()  # no holder of an earlier test dies during this one (that too rebuilds the list)
    secret = unique("sk-counted")
    counting = CountingHolder(secret)
    hold_secrets(counting)
    live_secrets()
    asked = counting.asked
    assert asked >= 1
    for _ in range(3):
        assert scrub_secrets(secret) == REDACTED
    assert counting.asked == asked  # every log record is scrubbed: the list is cached
    hold_secrets(counting)
    live_secrets()
    assert counting.asked == asked + 1
    del counting
    gc.collect()


def test_a_changed_credential_is_scrubbed_once_told(holder: Holder) -> None:
    old, new = unique("old"), unique("new")
    holder.values = [old]
    hold_secrets(holder)
    assert scrub_secrets(old) == REDACTED
    holder.values = [new]
    hold_secrets(holder)  # told again: the cached list is rebuilt
    assert scrub_secrets(new) == REDACTED
    assert scrub_secrets(old) == old
    holder.values = [old]
    hold_secrets(holder)  # and again: every call counts, not only the first
    assert scrub_secrets(old) == REDACTED


def test_a_dead_holders_credential_is_no_longer_scrubbed() -> None:
    secret = unique("gone")
    h = Holder(secret)
    hold_secrets(h)
    assert scrub_secrets(secret) == REDACTED
    del h
    gc.collect()
    assert secret not in live_secrets()
    assert scrub_secrets(secret) == secret


def test_holding_a_credential_puts_the_scrub_on_loggers_created_since(holder: Holder) -> None:
    logger = logging.getLogger(unique("resilience.late"))
    assert _SDK_FILTER not in logger.filters
    hold_secrets(holder)
    assert _SDK_FILTER in logger.filters


# --------------------------------------------------------------------------------------------------- bodies


def test_secret_keys_are_redacted_at_any_depth() -> None:
    value = {"a": [{"password": "p", "n": 1}, "s"], "Api_Key": "k", "nested": {"x": {"cookie": {"deep": 1}}}}
    assert _scrub(value) == {"a": [{"password": REDACTED, "n": 1}, "s"], "Api_Key": REDACTED,
                             "nested": {"x": {"cookie": REDACTED}}}  # fmt: skip


def test_a_key_that_is_not_a_string_is_kept_and_its_value_scrubbed() -> None:
    assert _scrub({1: {"token": "t"}, None: ["x"]}) == {1: {"token": REDACTED}, None: ["x"]}


def test_a_body_is_shown_as_compact_json_with_its_text_as_it_is() -> None:
    assert redact_body(b'{ "name" : "caf\\u00e9",  "list": [1, 2] }') == '{"name":"café","list":[1,2]}'
    assert redact_body('["a", {"secret": 1}]') == f'["a",{{"secret":"{REDACTED}"}}]'


@pytest.mark.parametrize("content", [None, b"", ""])
def test_no_body_is_shown_as_nothing(content: bytes | str | None) -> None:
    assert redact_body(content) == ""


def test_a_body_that_is_not_json_is_shown_by_its_size_only() -> None:
    assert redact_body(b"password=hunter2") == "<16 bytes, not JSON>"
    assert redact_body(b"\xff\xfe{}") == "<4 bytes, not JSON>"
    assert redact_body("{") == "<1 bytes, not JSON>"


def test_a_body_over_64_kib_is_summarised_not_parsed() -> None:
    at_limit = b'"' + b"a" * (64 * 1024 - 2) + b'"'
    assert redact_body(at_limit, limit=10) == f'"aaaaaaaaa...<{64 * 1024} bytes>'
    over = b'"' + b"a" * (64 * 1024 - 1) + b'"'
    assert redact_body(over) == f"<{64 * 1024 + 1} bytes>"


def test_a_long_body_is_cut_at_the_limit() -> None:
    body = b'{"k": "0123456789"}'  # compact: {"k":"0123456789"}, 18 characters
    assert redact_body(body, limit=18) == '{"k":"0123456789"}'
    assert redact_body(body, limit=17) == '{"k":"0123456789"...<19 bytes>'
    assert redact_body(b'"' + b"x" * 600 + b'"') == '"' + "x" * 511 + "...<602 bytes>"


def test_a_held_credential_is_scrubbed_from_a_body_under_any_key(holder: Holder) -> None:
    secret = unique("sk-body")
    holder.values = [secret]
    hold_secrets(holder)
    assert redact_body(f'{{"note": "uses {secret}"}}') == f'{{"note":"uses {REDACTED}"}}'


# --------------------------------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://api.example.com/v1/resources", "https://api.example.com/v1/resources"),
        (
            "https://api.example.com/v1?cursor=abc&limit=5",
            f"https://api.example.com/v1?cursor={REDACTED}&limit={REDACTED}",
        ),
        ("https://h/p?a=1&a=2", f"https://h/p?a={REDACTED}&a={REDACTED}"),
        ("https://user:pw@h/p", "https://h/p"),
        ("https://h/p#frag-token", "https://h/p"),
        ("https://user:pw@h:8443/p?sig=s#f", f"https://h:8443/p?sig={REDACTED}"),
    ],
)
def test_a_url_is_shown_without_userinfo_fragment_or_query_values(url: str, shown: str) -> None:
    assert redact_url(httpx.URL(url)) == shown


# --------------------------------------------------------------------------------------------------- log records


def test_the_scrub_replaces_a_credential_in_a_record_with_its_formatted_message(holder: Holder) -> None:
    secret = unique("sk-log")
    holder.values = [secret]
    hold_secrets(holder)
    rec = record("sent %s to %s", secret, "host")
    assert _ScrubFilter().filter(rec) is True
    assert (rec.msg, rec.args) == (f"sent {REDACTED} to host", None)
    assert rec.getMessage() == f"sent {REDACTED} to host"


def test_a_record_without_a_credential_is_left_as_it_is(holder: Holder) -> None:
    holder.values = [unique("sk-unused")]
    hold_secrets(holder)
    rec = record("sent %s", "nothing")
    assert _ScrubFilter().filter(rec) is True
    assert (rec.msg, rec.args) == ("sent %s", ("nothing",))


def test_a_malformed_record_is_passed_on_untouched(holder: Holder) -> None:
    holder.values = [unique("sk-malformed")]
    hold_secrets(holder)
    rec = record("%s and %s", "only one")
    assert _ScrubFilter().filter(rec) is True
    assert (rec.msg, rec.args) == ("%s and %s", ("only one",))


def test_only_the_httpx_scrub_rewrites_url_arguments() -> None:
    url = httpx.URL("https://h/p?token=abc")
    rec = record('HTTP Request: %s %s "%s"', "GET", url, "200 OK")
    assert _ScrubFilter(urls=True).filter(rec) is True
    assert rec.args == ("GET", f"https://h/p?token={REDACTED}", "200 OK")
    plain = record("%s", url)
    assert _ScrubFilter().filter(plain) is True
    assert plain.args == (url,)
    as_dict = logging.LogRecord("httpx", logging.INFO, __file__, 1, "%(u)s", ({"u": url},), None)
    assert _ScrubFilter(urls=True).filter(as_dict) is True
    assert as_dict.args == {"u": url}  # only positional URL arguments are rewritten


def test_the_log_scrubs_are_on_every_sdk_logger_and_on_httpx_once() -> None:
    child = logging.getLogger(unique("resilience.child"))
    other = logging.getLogger(unique("resilienceish"))
    install_log_filters()
    install_log_filters()
    assert child.filters.count(_SDK_FILTER) == 1
    assert logging.getLogger("resilience").filters.count(_SDK_FILTER) == 1
    assert logging.getLogger("httpx").filters.count(_HTTPX_FILTER) == 1
    assert _SDK_FILTER not in logging.getLogger("httpx").filters
    assert _SDK_FILTER not in other.filters


def test_the_httpx_scrub_is_put_back_once_loggers_are_created() -> None:
    httpx_logger = logging.getLogger("httpx")
    httpx_logger.removeFilter(_HTTPX_FILTER)
    try:
        logging.getLogger(unique("resilience.new"))
        install_log_filters()
        assert httpx_logger.filters.count(_HTTPX_FILTER) == 1
    finally:
        if _HTTPX_FILTER not in httpx_logger.filters:
            httpx_logger.addFilter(_HTTPX_FILTER)


def test_installing_the_log_scrubs_is_a_no_op_unless_loggers_were_created() -> None:
    child = logging.getLogger(unique("resilience.noop"))
    install_log_filters()
    child.removeFilter(_SDK_FILTER)
    install_log_filters()  # no logger created since: nothing is looked at again
    assert _SDK_FILTER not in child.filters
    logging.getLogger(unique("resilience.another"))
    install_log_filters()
    assert _SDK_FILTER in child.filters


# --------------------------------------------------------------------------------------------------- header reprs


def test_a_clients_header_repr_shows_only_allowlisted_values() -> None:
    with httpx.Client(headers={"X-Api-Key": "sk-123456", "Accept": "application/json"}) as client:
        mask_header_repr(client)
        assert client.headers["x-api-key"] == "sk-123456"  # what is sent is unchanged
        shown = repr(client.headers)
        assert "sk-123456" not in shown
        assert f"'x-api-key': '{REDACTED}'" in shown
        assert "'accept': 'application/json'" in shown
        assert shown.startswith("Headers({")


def test_a_header_repr_with_a_repeated_name_lists_every_pair() -> None:
    with httpx.Client() as client:
        client.headers = httpx.Headers([("Cookie", "a=1"), ("Cookie", "b=2"), ("Accept", "*/*")])
        mask_header_repr(client)
        shown = repr(client.headers)
    assert shown.startswith("Headers([")
    assert shown.count(REDACTED) == 2
    assert "a=1" not in shown
    assert "b=2" not in shown

"""Batch accounting, stated exactly: what each answer means for each item (benchmarks/MUTATION.md).

Pure functions of ``resilience._batch``: reading a 2xx answer (every malformed entry reported,
none hiding the next), the error of an answer that does not add up, which failures leave a
chunk's outcome unknown, how chunk outcomes become one ``BatchResult``, and its summary line.
"""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from resilience import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    BatchResult,
    BatchSpec,
    ChunkFailure,
    CircuitOpenError,
    DryRun,
    RejectedItem,
)
from resilience._batch import (
    MAYBE_STORED_STATUSES,
    _ChunkOutcome,
    _num,
    accounting_error,
    assemble,
    chunk_failed,
    fingerprint,
    read_answer,
    rejections_in,
)

SPEC = BatchSpec(max_items=100)
#: Renamed fields, as the spec's ``x-batch`` allows: the answer is read by these names only.
RENAMED = BatchSpec(
    max_items=100,
    accepted_field="ok_count",
    rejected_field="refused",
    index_field="pos",
    reason_field="why",
    id_field="ref",
)


def status_error(status: int) -> APIStatusError:
    return APIStatusError(httpx.Response(status, request=httpx.Request("POST", "http://x/resources")))


def unreadable() -> APIResponseValidationError:
    return APIResponseValidationError("not JSON", status_code=200)


# --------------------------------------------------------------------------------------------------- read_answer


def test_a_clean_answer_maps_rejections_back_to_the_callers_indexes() -> None:
    body = {
        "success": True,
        "accepted": 2,
        "rejected": [{"index": 2, "reason": "duplicate id", "id": "r-7"}, {"index": 0, "reason": "bad", "id": 42}],
    }
    rejected, problems = read_answer(10, 14, body, SPEC)
    assert problems == []
    # start + index, in the answer's order; an id that is not a string is shown as one
    assert rejected == [RejectedItem(12, "duplicate id", "r-7"), RejectedItem(10, "bad", "42")]


def test_a_rejection_without_reason_or_id_keeps_an_empty_reason_and_no_id() -> None:
    rejected, problems = read_answer(5, 7, {"accepted": 1, "rejected": [{"index": 1}]}, SPEC)
    assert (rejected, problems) == ([RejectedItem(6, "", None)], [])


def test_the_answer_is_read_by_the_fields_the_spec_names() -> None:
    body = {"ok_count": 1, "refused": [{"pos": 0, "why": "too old", "ref": "a"}], "accepted": 7, "rejected": 3}
    assert read_answer(3, 5, body, RENAMED) == ([RejectedItem(3, "too old", "a")], [])


def test_every_malformed_rejection_is_reported_and_none_hides_the_next() -> None:
    entries = [
        "oops",  # not an object
        {"reason": "no index"},
        {"index": True},  # a bool is not an index
        {"index": "1"},
        {"index": -1},
        {"index": 4},  # the chunk has 4 items: 0..3
        {"index": 10**12},
        {"index": 1, "reason": "first"},
        {"index": 1, "reason": "again"},
        {"index": 3, "reason": "last"},
    ]
    rejected, problems = read_answer(100, 104, {"success": True, "accepted": 0, "rejected": entries}, SPEC)
    assert rejected == [RejectedItem(101, "first"), RejectedItem(103, "last")]
    assert problems == [
        "rejected[0] is not an object",
        "rejected[1] has no integer index",
        "rejected[2] has no integer index",
        "rejected[3] has no integer index",
        "rejected[4].index -1 is outside the chunk of 4",
        "rejected[5].index 4 is outside the chunk of 4",
        "rejected[6].index (a huge number) is outside the chunk of 4",
        "rejected[8].index 1 was rejected twice",
        "accepted 0 + rejected 10 != 4 items",
    ]


def test_the_first_and_last_index_of_a_chunk_are_inside_it() -> None:
    inside = [{"index": 0, "reason": "a"}, {"index": 1}]
    assert read_answer(7, 9, {"accepted": 0, "rejected": inside}, SPEC) == (
        [RejectedItem(7, "a"), RejectedItem(8, "")],
        [],
    )
    past = [{"index": 0, "reason": "a"}, {"index": 2, "reason": "b"}]
    assert read_answer(7, 9, {"accepted": 0, "rejected": past}, SPEC) == (
        [RejectedItem(7, "a")],
        ["rejected[1].index 2 is outside the chunk of 2"],
    )


@pytest.mark.parametrize(
    ("body", "problems"),
    [
        ([1, 2], ["the answer is not an object"]),
        (None, ["the answer is not an object"]),
        ({"success": False, "accepted": 2}, ["success is false"]),
        ({"success": None, "accepted": 2}, []),
        ({"success": 0, "accepted": 2}, []),  # only an explicit false counts
        ({"accepted": 2, "rejected": None}, []),
        ({"accepted": 2, "rejected": {"index": 0}}, ["rejected is not a list"]),
        ({"accepted": 2, "rejected": "none"}, ["rejected is not a list"]),
        ({"rejected": []}, ["accepted is not a count"]),
        ({"accepted": "2"}, ["accepted is not a count"]),
        ({"accepted": True}, ["accepted is not a count"]),
        ({"accepted": 2.0}, ["accepted is not a count"]),
        ({"accepted": 3}, ["accepted 3 + rejected 0 != 2 items"]),
        ({"accepted": 1}, ["accepted 1 + rejected 0 != 2 items"]),
        ({"accepted": -(10**12)}, ["accepted (a huge number) + rejected 0 != 2 items"]),
        (
            {"success": False, "accepted": 5, "rejected": 1},
            ["success is false", "rejected is not a list", "accepted 5 + rejected 0 != 2 items"],
        ),
    ],
)
def test_what_does_not_add_up_in_an_answer(body: object, problems: list[str]) -> None:
    assert read_answer(0, 2, body, SPEC) == ([], problems)


def test_problems_are_named_by_the_specs_fields() -> None:
    body = {"success": False, "refused": [{"why": "x"}, {"pos": 9}], "ok_count": "n"}
    assert read_answer(0, 2, body, RENAMED) == (
        [],
        [
            "success is false",
            "refused[0] has no integer pos",
            "refused[1].pos 9 is outside the chunk of 2",
            "ok_count is not a count",
        ],
    )
    assert read_answer(0, 2, {"ok_count": 0, "refused": "x"}, RENAMED)[1] == [
        "refused is not a list",
        "ok_count 0 + refused 0 != 2 items",
    ]


@pytest.mark.parametrize(
    ("n", "shown"),
    [
        (0, "0"),
        (10**12 - 1, "999999999999"),
        (-(10**12) + 1, "-999999999999"),
        (10**12, "(a huge number)"),
        (-(10**12), "(a huge number)"),
        (10**100, "(a huge number)"),
    ],
)
def test_numbers_in_messages_are_shown_up_to_twelve_digits(n: int, shown: str) -> None:
    assert _num(n) == shown


# --------------------------------------------------------------------------------------------------- rejections_in


def test_rejections_of_a_body_that_broke_the_contract_are_still_read() -> None:
    content = json.dumps({"success": False, "accepted": 9, "rejected": [{"index": 1, "reason": "r"}, "junk"]})
    assert rejections_in(content.encode(), 20, 23, SPEC) == [RejectedItem(21, "r")]


@pytest.mark.parametrize("content", [b"", b"not json", b"{", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000])
def test_a_body_that_cannot_be_read_has_no_rejections_and_never_raises(content: bytes) -> None:
    assert rejections_in(content, 0, 3, SPEC) == []


# --------------------------------------------------------------------------------------------------- accounting_error


def test_the_accounting_error_names_up_to_three_problems_and_counts_the_rest() -> None:
    error = accounting_error(["a", "b", "c", "d", "e"], 207, "create_resources", "req-1")
    assert type(error) is APIResponseValidationError
    assert (error.status_code, error.operation, error.request_id) == (207, "create_resources", "req-1")
    assert str(error) == (
        "the server's accounting does not add up: a; b; c (and 2 more) (status 207) "
        "[operation=create_resources, request_id=req-1]"
    )
    four = accounting_error(["a", "b", "c", "d"], 200, "op", None)
    assert str(four) == "the server's accounting does not add up: a; b; c (and 1 more) (status 200) [operation=op]"


def test_the_accounting_error_of_three_problems_or_fewer_names_them_all() -> None:
    three = accounting_error(["a", "b", "c"], 200, "op", None)
    assert isinstance(three, APIResponseValidationError)
    assert str(three) == "the server's accounting does not add up: a; b; c (status 200) [operation=op]"
    assert (three.status_code, three.operation, three.request_id) == (200, "op", None)
    one = accounting_error(["success is false"], 200, "op", None)
    assert str(one) == "the server's accounting does not add up: success is false (status 200) [operation=op]"


# --------------------------------------------------------------------------------------------------- chunk_failed


def _connection() -> APIConnectionError:
    return APIConnectionError("refused")


def _breaker() -> CircuitOpenError:
    return CircuitOpenError(breaker="api", retry_in=1.0)


@pytest.mark.parametrize(
    ("error", "maybe_delivered", "state"),
    [
        # never reached the server: nothing stored
        (_connection(), False, "not_delivered"),
        (APITimeoutError("connect timeout"), False, "not_delivered"),
        (_breaker(), False, "not_delivered"),
        (status_error(400), False, "not_delivered"),
        (status_error(429), False, "not_delivered"),
        (status_error(501), False, "not_delivered"),
        (status_error(505), False, "not_delivered"),
        # an earlier attempt may have reached it: whatever the last error, the outcome is unknown
        (_connection(), True, "outcome_unknown"),
        (_breaker(), True, "outcome_unknown"),
        (status_error(400), True, "outcome_unknown"),
        # a 2xx we could not read, or a status after which the backend may have stored
        (unreadable(), False, "outcome_unknown"),
        (status_error(500), False, "outcome_unknown"),
        (status_error(502), False, "outcome_unknown"),
        (status_error(503), False, "outcome_unknown"),
        (status_error(504), False, "outcome_unknown"),
    ],
)
def test_which_failures_leave_a_chunk_outcome_unknown(error: APIStatusError, maybe_delivered: bool, state: str) -> None:
    outcome = chunk_failed(4, 9, "key-1", error, maybe_delivered)
    assert (outcome.start, outcome.stop, outcome.key, outcome.state) == (4, 9, "key-1", state)
    assert outcome.error is error
    assert (outcome.accepted, outcome.rejected, outcome.parsed) == ([], [], None)


def test_the_statuses_after_which_the_backend_may_have_stored() -> None:
    assert frozenset({500, 502, 503, 504}) == MAYBE_STORED_STATUSES


# --------------------------------------------------------------------------------------------------- assemble


def test_chunk_outcomes_become_one_result_in_the_callers_order() -> None:
    down, lost = status_error(400), status_error(503)
    outcomes = [
        _ChunkOutcome(6, 9, None, "not_delivered", error=down),
        _ChunkOutcome(3, 6, "k2", "accepted", accepted=[5, 3], rejected=[RejectedItem(4, "r")], parsed="second"),
        _ChunkOutcome(9, 12, "k4", "outcome_unknown", rejected=[RejectedItem(10, "said")], error=lost),
        _ChunkOutcome(0, 3, "k1", "accepted", accepted=[2, 0], rejected=[RejectedItem(1, "x")], parsed="first"),
    ]
    prints = ((0, 3, "d1"), (3, 6, "d2"))
    result = assemble("create_resources", 12, outcomes, prints)
    assert result == BatchResult(
        operation="create_resources",
        total=12,
        accepted=(0, 2, 3, 5),
        rejected=(RejectedItem(1, "x"), RejectedItem(4, "r")),
        not_delivered=(ChunkFailure(6, 9, None, down),),
        outcome_unknown=(ChunkFailure(9, 12, "k4", lost, (RejectedItem(10, "said"),)),),
        chunks=4,
        responses=("first", "second"),  # of the accepted chunks, in the caller's order
        chunk_fingerprints=prints,
    )


def test_what_a_resumed_call_carried_over_is_not_a_chunk_of_this_call() -> None:
    outcomes = [
        _ChunkOutcome(-1, -1, None, "accepted", accepted=[4, 1], rejected=[RejectedItem(3, "old")]),
        _ChunkOutcome(0, 1, "k", "accepted", accepted=[0], parsed="p"),
        _ChunkOutcome(2, 3, "k2", "accepted", accepted=[2], rejected=[RejectedItem(2, "new")]),
    ]
    result = assemble("op", 5, outcomes)
    assert result.chunks == 2  # the chunk at index 0 counts, the carried-over one does not
    assert result.accepted == (0, 1, 2, 4)
    assert result.rejected == (RejectedItem(2, "new"), RejectedItem(3, "old"))
    assert result.responses == (None, "p", None)
    assert result.chunk_fingerprints == ()


def test_rejections_are_ordered_by_index_not_by_reason() -> None:
    outcomes = [_ChunkOutcome(0, 3, "k", "accepted", rejected=[RejectedItem(2, "a"), RejectedItem(0, "b")])]
    assert assemble("op", 3, outcomes).rejected == (RejectedItem(0, "b"), RejectedItem(2, "a"))


# --------------------------------------------------------------------------------------------------- the result


def _result() -> BatchResult:
    return BatchResult(
        operation="create_resources",
        total=4321,
        accepted=tuple(range(1000, 4321)),
        rejected=(RejectedItem(0, "r"), RejectedItem(1, "r")),
        not_delivered=(ChunkFailure(2, 500, "a", _connection()), ChunkFailure(500, 700, None, _connection())),
        outcome_unknown=(ChunkFailure(700, 1000, "b", unreadable()),),
        chunks=9,
    )


def test_the_indexes_of_each_failed_group_in_order() -> None:
    result = _result()
    assert result.not_delivered_indexes() == list(range(2, 700))
    assert result.outcome_unknown_indexes() == list(range(700, 1000))


def test_the_summary_counts_every_group() -> None:
    assert _result().summary() == {
        "dry_run": False,
        "total": 4321,
        "accepted": 3321,
        "rejected": 2,
        "not_delivered": 698,
        "outcome_unknown": 300,
        "chunks": 9,
    }


def test_the_summary_line_says_what_happened_to_every_item() -> None:
    assert str(_result()) == (
        "create_resources: accepted 3,321  rejected 2  not delivered 698  outcome unknown 300  (9 chunk(s))"
    )


def test_a_dry_run_is_told_as_what_would_have_been_sent() -> None:
    dry = DryRun("create_resources", "POST", "/resources", 1234, ((0, 1000), (1000, 1234)))
    result = BatchResult(operation="create_resources", total=1234, chunks=2, dry_run=dry)
    assert bool(dry) is True
    assert str(result) == "dry run of create_resources: would send 1,234 item(s) in 2 chunk(s); nothing was sent"
    assert result.summary() == {
        "dry_run": True,
        "total": 1234,
        "accepted": 0,
        "rejected": 0,
        "not_delivered": 0,
        "outcome_unknown": 0,
        "chunks": 2,
    }


def test_a_chunk_fingerprint_is_the_16_byte_blake2b_of_its_body() -> None:
    body = b'[{"id":"r-1"}]'
    assert fingerprint(body) == hashlib.blake2b(body, digest_size=16).hexdigest()
    assert len(fingerprint(b"")) == 32
    assert fingerprint(body) != fingerprint(body + b" ")

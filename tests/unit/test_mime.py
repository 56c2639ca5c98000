"""mailbot.mail.mime builds exactly the tree ``email.message_from_bytes`` (compat32) builds.

The fast builder is only allowed to be faster, never different: every header, payload, preamble,
epilogue, default type, Unix From line and defect must match the stdlib's, on every corpus message
and on generated MIME full of the shapes parsers get wrong (boundaries in odd places, mixed line
endings, missing or doubled boundaries, header blocks without a blank line).
"""

from __future__ import annotations

import email
from email.message import Message
from email.policy import compat32
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailbot.mail import mime
from tests.unit.test_rules_support import CORPUS

CORPUS_FILES = sorted(CORPUS.rglob("*.eml"))


def snapshot(msg: Message) -> dict[str, Any]:
    """Everything the parser decides about a message, as comparable plain data."""
    state = {k: v for k, v in vars(msg).items() if k not in ("policy", "defects", "_payload")}
    state["defects"] = [(type(d).__name__, str(d)) for d in msg.defects]
    payload = msg.get_payload()
    state["_payload"] = [snapshot(p) for p in payload] if isinstance(payload, list) else vars(msg)["_payload"]
    return state


def stdlib(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=compat32)


def built_fast(raw: bytes) -> bool:
    """True when the fast builder handled the message itself (no stdlib fallback)."""
    try:
        mime._build(raw.decode("ascii", "surrogateescape"), {})
    except mime._Irregular:
        return False
    return True


def test_corpus_is_present() -> None:
    assert len(CORPUS_FILES) > 900, f"corpus missing or shrunk under {CORPUS}"


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_same_tree_as_stdlib_on_corpus(path: Path) -> None:
    raw = path.read_bytes()
    assert snapshot(mime.message_from_bytes(raw)) == snapshot(stdlib(raw))


@pytest.mark.parametrize("path", CORPUS_FILES[::7], ids=lambda p: str(p.relative_to(CORPUS)))
def test_recorded_content_types_are_the_parts_own(path: Path) -> None:
    """The types handed to parse.py are each part's get_content_type(), for the parts built fast,
    and none at all after a stdlib fallback (its parts may reuse a discarded part's id)."""
    raw = path.read_bytes()
    types: mime.ContentTypes = {}
    tree = mime.message_from_bytes(raw, types)
    expected = {id(part): part.get_content_type() for part in tree.walk()} if built_fast(raw) else {}
    assert types == expected


def test_fast_path_handles_nearly_all_corpus_mail() -> None:
    """The speed-up is real only if regular mail does not fall back (the corpus is mostly torture)."""
    fast = sum(built_fast(p.read_bytes()) for p in CORPUS_FILES)
    assert fast / len(CORPUS_FILES) > 0.95
    labelled = sorted((CORPUS / "labelled").glob("*.eml"))
    assert all(built_fast(p.read_bytes()) for p in labelled)


# --- hand-picked shapes -----------------------------------------------------------------------


def _mp(body: str, boundary: str = "b1", extra: str = "") -> bytes:
    head = f'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="{boundary}"\n{extra}\n'
    return (head + body).encode("utf-8")


SHAPES = {
    "plain": b"Subject: hi\n\nbody\n",
    "crlf": b"Subject: hi\r\nX: y\r\n\r\nbody\r\nmore\r\n",
    "lone-cr": b"Subject: hi\rX: y\r\rbody\r",
    "no-body": b"Subject: hi\n",
    "header-blanks": b"Subject:\t hi \nX-Empty:\nX-Blank: \t\nX-Fold:\n  next\n\t\nX-Tight:v\n\nbody\n",
    "no-blank-line": b"Subject: hi\nthis is body\n",
    "unix-from": b"From someone Mon Jan 1\nSubject: hi\n\nbody\n",
    "from-last-header": b"Subject: hi\nFrom me\n\nbody\n",
    "misplaced-from": b"Subject: hi\nFrom me\nX: y\n\nbody\n",
    "continuation-first": b" folded\nSubject: hi\n\nbody\n",
    "missing-name": b":oops\nSubject: hi\n\nbody\n",
    "eight-bit": "Subject: café\n\nçà €\n".encode(),
    "multipart": _mp("pre\n--b1\nContent-Type: text/plain\n\none\n--b1\n\ntwo\n--b1--\nepi\n"),
    "boundary-trailing-blanks": _mp("--b1 \t\n\none\n--b1-- \nafter\n"),
    "boundary-mid-line": _mp("--b1\n\nsee --b1 here\n--b1x\n--b1 x\n--b1--\n"),
    "lookalike-lines": _mp("--b1\n\none\n--b1x\nx--b1\n--b1 x\n--b1--x\n--b1\n\ntwo\n--b1--\n"),
    "close-then-junk": _mp("--b1\n\none\n--b1--\n--b1\nnot a part\n"),
    "no-close": _mp("--b1\n\none\n--b1\n\ntwo\n"),
    "no-start": _mp("just text\n--b1--\ntail\n"),
    "no-boundary-at-all": _mp("just text\n"),
    "doubled-boundary": _mp("--b1\n--b1\n\none\n--b1--\n"),
    "boundary-last-line": _mp("--b1\n\none\n--b1"),
    "folded-boundary-param": b'Content-Type: multipart/mixed; boundary="a\n b"\n\n--a\n b\n\nx\n--a\n b--\n',
    "no-boundary-param": b"Content-Type: multipart/mixed\n\n--x\n\nbody\n--x--\n",
    "encoded-multipart": _mp("--b1\n\none\n--b1--\n", extra="Content-Transfer-Encoding: base64\n"),
    "nested": _mp(
        "--b1\nContent-Type: multipart/alternative; boundary=b2\n\n--b2\n\nplain\n--b2\n"
        "Content-Type: text/html\n\n<p>x</p>\n--b2--\ninner epilogue\n\n--b1--\n"
    ),
    "nested-without-close": _mp(
        "--b1\nContent-Type: multipart/alternative; boundary=b2\n\n--b2\n\nplain\n--b1\n\nlast\n--b1--\n"
    ),
    "rfc822": _mp(
        "--b1\n\nsee attached\n--b1\nContent-Type: message/rfc822\n\nSubject: inner\n\ninner body\n\n--b1--\n"
    ),
    "rfc822-multipart": _mp(
        "--b1\nContent-Type: message/rfc822\n\nContent-Type: multipart/mixed; boundary=b3\n\n"
        "--b3\n\nx\n--b3--\n\n--b1--\n"
    ),
    "delivery-status": _mp(
        "--b1\n\nbounce\n--b1\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\n"
        "Final-Recipient: rfc822; a@b\nAction: failed\n\n\n--b1--\n",
        extra="",
    ),
    "delivery-status-body-line": _mp(
        "--b1\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\nnot a field\n\n--b1--\n"
    ),
    "digest": b"Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: a\n\nx\n--d--\n",
    "empty": b"",
}


@pytest.mark.parametrize("raw", SHAPES.values(), ids=SHAPES.keys())
def test_same_tree_as_stdlib_on_odd_shapes(raw: bytes) -> None:
    assert snapshot(mime.message_from_bytes(raw)) == snapshot(stdlib(raw))


def test_regular_shapes_take_the_fast_path() -> None:
    """Guard against a builder that quietly falls back for everything (equal, but not faster)."""
    regular = ("plain", "header-blanks", "crlf", "lone-cr", "multipart", "lookalike-lines", "nested")
    regular += ("rfc822",)
    for name in (*regular, "delivery-status", "no-close", "no-start", "no-blank-line"):
        assert built_fast(SHAPES[name]), name


# --- generated MIME ---------------------------------------------------------------------------

EOLS = st.sampled_from(["\n", "\r\n", "\r"])
BOUNDARIES = st.sampled_from(["b1", "b2", "=_x", "b1-", "b", "--", "a.b+c"])
LOOKALIKES = ["--b1x", "x--b1", "--b1--x"]  # look like boundary lines, are not
TEXT_LINE = st.text(alphabet="ab1x -=_:\t>Fromé\x80\u20ac", max_size=12) | st.sampled_from(
    ["--b1", "--b1--", "--b2", "--b2--", "--b1 ", "--b", "From x", "", " x", "--=_x", *LOOKALIKES]
)
HEADER_LINE = st.sampled_from(
    [
        "Subject: hi",
        "Subject:\t hi ",
        "X-A: 1",
        "X-Empty:",
        "X-Blank: \t",
        " continued",
        "\tcontinued",
        "From x",
        ":bad",
        "To: a@b",
        "Content-Type: text/html",
        "Content-Transfer-Encoding: base64",
        "Content-Type: message/rfc822",
        "Content-Disposition: attachment; filename=a.txt",
        "not a header",
    ]
)


@st.composite
def lines_text(draw: st.DrawFn, lines: st.SearchStrategy[str]) -> str:
    items = draw(st.lists(lines, max_size=6))
    return "".join(line + draw(EOLS) for line in items)


@st.composite
def mime_part(draw: st.DrawFn, depth: int = 0) -> str:
    headers = draw(lines_text(HEADER_LINE))
    kind = draw(st.sampled_from(["leaf", "leaf", "multipart", "rfc822", "status"] if depth < 3 else ["leaf"]))
    blank = draw(st.sampled_from(["\n", "\r\n", "\r", ""]))  # "" = no blank line after the headers
    if kind == "leaf":
        return headers + blank + draw(lines_text(TEXT_LINE))
    if kind == "rfc822":
        return headers + "Content-Type: message/rfc822\n" + blank + draw(mime_part(depth + 1))
    if kind == "status":
        blocks = draw(st.lists(lines_text(HEADER_LINE), min_size=1, max_size=3))
        return headers + "Content-Type: message/delivery-status\n" + blank + "\n".join(blocks)
    boundary = draw(BOUNDARIES)
    eol = draw(EOLS)
    body = draw(lines_text(TEXT_LINE))  # preamble
    for _ in range(draw(st.integers(0, 3))):
        body += f"--{boundary}{draw(st.sampled_from(['', ' ', '--']))}{eol}{draw(mime_part(depth + 1))}{eol}"
    if draw(st.booleans()):
        body += f"--{boundary}--{draw(st.sampled_from(['', ' ']))}{eol}"
    body += draw(lines_text(TEXT_LINE))  # epilogue
    subtype = draw(st.sampled_from(["mixed", "alternative", "report"]))
    ctype = f'Content-Type: multipart/{subtype}; boundary="{boundary}"'
    return headers + ctype + eol + blank + body


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(mime_part())
def test_same_tree_as_stdlib_on_generated_mime(text: str) -> None:
    raw = text.encode("utf-8")
    assert snapshot(mime.message_from_bytes(raw)) == snapshot(stdlib(raw))


@settings(max_examples=300)
@given(st.binary(max_size=400), st.sampled_from([b"", b"Content-Type: multipart/mixed; boundary=b\n\n--b\n"]))
def test_fast_builder_raises_nothing_but_fallback_on_random_bytes(tail: bytes, head: bytes) -> None:
    raw = head + tail
    try:
        fast = mime._build(raw.decode("ascii", "surrogateescape"), {})
    except mime._Irregular:
        return
    if fast.get_content_maintype() == "multipart" and not fast.is_multipart():
        return  # the root-only defect is added by message_from_bytes, compared below
    assert snapshot(mime.message_from_bytes(raw)) == snapshot(stdlib(raw))


# --- Content-Type parameters ------------------------------------------------------------------


def _with_content_type(value: str) -> Message:
    msg = Message()
    msg.set_raw("Content-Type", value)
    return msg


def test_parameters_match_stdlib_on_every_corpus_part() -> None:
    checked = 0
    for path in CORPUS_FILES:
        for part in stdlib(path.read_bytes()).walk():
            assert mime.boundary(part) == part.get_boundary(), path
            assert mime.content_charset(part) == part.get_content_charset(), path
            assert mime.filename(part) == part.get_filename(), path
            checked += 1
    assert checked > 2000


PARAM_VALUES = [
    'text/plain; charset="UTF-8"',
    "text/plain; charset=iso-8859-1; format=flowed",
    "text/plain;\r\n\tcharset=us-ascii",
    'multipart/mixed; boundary="----=_Part_1;x"',
    "multipart/mixed; boundary=<abc>",
    'multipart/mixed; boundary=""abc""',
    "multipart/mixed; boundary=abc  ",
    "multipart/mixed; BOUNDARY=abc; boundary=second",
    "multipart/mixed; boundary",
    "multipart/mixed;; boundary=a",
    'multipart/mixed; boundary="unbalanced',
    "charset=x; charset=y",
    "text/plain; charset*=utf-8''%C3%A9",
    'text/plain; charset="a\\"b"',
    "text/plain; charset=caf\u00e9",
    'text/plain; charset=a"b"c',
]


@pytest.mark.parametrize("value", PARAM_VALUES)
def test_parameters_match_stdlib_on_odd_values(value: str) -> None:
    msg = _with_content_type(value)
    assert mime.boundary(msg) == msg.get_boundary()
    assert mime.content_charset(msg) == msg.get_content_charset()


FILENAME_HEADERS = [
    ("attachment; filename=report.pdf", None),
    ('attachment; filename=" spaced.pdf "', "application/pdf; name=other.pdf"),
    ("inline", 'image/png; name="logo.png"'),
    ("attachment; FILENAME=A.TXT", None),
    ("attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf", None),
    ("attachment; filename=", "text/plain; name=x"),
    ("attachment; filename=<angle>", None),
    ('attachment; filename=""twice-quoted.txt""', None),
    (None, 'application/octet-stream; name="a\\"b.bin"'),
    (None, None),
]


@pytest.mark.parametrize("disposition,ctype", FILENAME_HEADERS)
def test_filename_matches_stdlib(disposition: str | None, ctype: str | None) -> None:
    msg = Message()
    if disposition is not None:
        msg.set_raw("Content-Disposition", disposition)
    if ctype is not None:
        msg.set_raw("Content-Type", ctype)
    assert mime.filename(msg) == msg.get_filename()


@given(st.text(alphabet='abc=; "\t\r\n<>*\\-_.é', max_size=40))
def test_parameters_match_stdlib_on_generated_values(tail: str) -> None:
    for name in ("boundary", "charset", "name"):
        msg = _with_content_type(f"multipart/mixed; {name}={tail}")
        assert mime.boundary(msg) == msg.get_boundary()
        assert mime.content_charset(msg) == msg.get_content_charset()
        assert mime.filename(msg) == msg.get_filename()
    msg = Message()
    msg.set_raw("Content-Disposition", f"attachment; filename={tail}")
    assert mime.filename(msg) == msg.get_filename()


def _nested(levels: int) -> bytes:
    head = "".join(f'--b{i}\nContent-Type: multipart/mixed; boundary="b{i + 1}"\n\n' for i in range(levels))
    tail = "".join(f"\n--b{i}--\n" for i in reversed(range(levels)))
    top = 'Content-Type: multipart/mixed; boundary="b0"\n\n'
    return f"{top}{head}--b{levels}\n\ndeep\n--b{levels}--{tail}".encode()


def test_deep_nesting_goes_to_the_stdlib_and_stays_equal() -> None:
    """Each level slices its own text; past the depth limit the stdlib builds the tree instead."""
    shallow, deep = _nested(5), _nested(mime._MAX_DEPTH + 5)
    assert built_fast(shallow) and not built_fast(deep)
    for raw in (shallow, deep):
        assert snapshot(mime.message_from_bytes(raw)) == snapshot(stdlib(raw))

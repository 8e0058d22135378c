"""Text tables as spreadsheets and European locales leave them: any common encoding, any delimiter.

A CSV re-saved by Excel arrives as UTF-8 with or without a BOM, as UTF-16 with a BOM or, with
no BOM at all, in the PC's legacy code page (Windows-1252); European Excel separates with ``;``,
other tools with a tab or ``|``. ``normalise_text`` turns any of these into the one layout the
readers scan: UTF-8, comma-separated, RFC 4180 quoting. A file already in that layout is used
where it is; any other is transcoded once, streaming, into the staging folder.

Detection never guesses silently: the BOM decides, else strict UTF-8, else Windows-1252 — and a
file mixing UTF-8 and Windows-1252 is refused rather than read as mojibake ("FranÃ§oise"), as is
a file whose bytes break the encoding its BOM names. The refusal names the physical line (as an
editor counts it: the line breaks inside a quoted cell count too) where the reading breaks. The
five bytes Windows-1252 leaves undefined are read as browsers read them (WHATWG), as the Latin-1
characters of the same code, so one stray byte costs no other character of the file.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TextIO

import polars as pl

from tasks.errors import InputError
from tasks.extract.sources import StagedFile

CHUNK_BYTES = 1 << 22

UTF8_MAX_BYTES = 4
UTF8_CONTINUATION = 0x80
"""Bytes from here up to ``UTF8_LEAD`` continue a character; below it, ASCII."""
UTF8_LEAD = 0xC0

UTF8 = "utf-8"
UTF8_BOM = "utf-8-sig"
LEGACY = "cp1252"

UNDEFINED_AS_LATIN1 = "onramp-undefined-as-latin-1"
"""The decoding error handler that reads a byte Windows-1252 leaves undefined (0x81, 0x8D, 0x8F,
0x90, 0x9D) as the Latin-1 character of the same code, as the WHATWG Encoding Standard (every
browser) does. Reading such a file as Latin-1 instead would turn its every €, ’, “ ”, — (0x80-0x9F)
into control characters, which are then dropped."""

DECODING_ERRORS = {LEGACY: UNDEFINED_AS_LATIN1}
"""Encoding → the decoding error handler a file in it is read with (else ``strict``)."""

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, UTF8_BOM),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
"""Byte-order marks, UTF-32 first: its little-endian mark starts with UTF-16's."""

SCANNED_AS_IS = frozenset({UTF8, UTF8_BOM})
"""Encodings the readers scan without a copy (polars and the header read both strip the BOM)."""

DELIMITERS = (",", ";", "\t", "|")
"""Candidate delimiters, in order of preference when the header line counts tie."""

CANONICAL_DELIMITER = ","
QUOTE = '"'
HEADER_SNIFF_CHARS = 1 << 16

STRAY_QUOTE = (
    "a quoted cell is followed by more text: a quote inside a quoted cell must be doubled "
    '(write "O""Brien", not "O"Brien)'
)
"""The problem of a cell such as ``"O"Brien`` or ``"Ann" Lee``: a spreadsheet would have written
the inner quote doubled, so the cell's text is not certain and the file is refused."""

_POLARS_STRAY_QUOTE = "is not properly escaped"
"""How polars' CSV reader words its refusal of a quoted cell followed by more text."""

_MOJIBAKE = re.compile(rb"\xc3[\x80-\xbf]|\xe2\x80[\x90-\xbf]")
"""UTF-8 for accented Latin letters (``é`` = C3 A9) and typographic punctuation (``’`` =
E2 80 99): decoded as Windows-1252 they become ``Ã©`` and ``â€™``, which real text never holds."""


@dataclass(frozen=True)
class TextLayout:
    """How a text table is written.

    Attributes:
        encoding: A Python codec name (``utf-8``, ``utf-8-sig``, ``utf-16``, ``cp1252``, ...).
        delimiter: The field separator.
    """

    encoding: str
    delimiter: str

    @property
    def canonical(self) -> bool:
        """Whether the readers can scan the file as it is."""
        return self.encoding in SCANNED_AS_IS and self.delimiter == CANONICAL_DELIMITER


def detect_encoding(path: Path, uri: str) -> str:
    """The encoding of a text file: its BOM's, else UTF-8 if every byte decodes, else Windows-1252
    (its undefined bytes read as Latin-1: :data:`UNDEFINED_AS_LATIN1`).

    Args:
        path: The local file.
        uri: The file as the user knows it, for errors.

    Raises:
        InputError: The file mixes two encodings, and no single one reads it right: it has no
            BOM, is not UTF-8, and holds UTF-8 sequences for accented letters or punctuation; or
            its BOM says UTF-8 and a byte is not. The line named is where the encoding the file
            starts in (the first of the two found) breaks.
    """
    with path.open("rb") as handle:
        head = handle.read(4)
    for bom, encoding in BOMS:
        if head.startswith(bom):
            if encoding == UTF8_BOM:
                # Scanned as it is, by polars: a byte that is not UTF-8 would stop it mid-file.
                _refuse_non_utf8_after_utf8_bom(path, uri)
            return encoding
    non_utf8 = _first_non_utf8_byte(path)
    if non_utf8 is None:
        return UTF8
    utf8_letter = _first_match(path, _MOJIBAKE)
    if utf8_letter is None:
        return LEGACY
    legacy_at, byte = non_utf8
    utf8_at, sequence = utf8_letter
    legacy, utf8 = _as_windows_1252(byte), _as_utf8(sequence)
    # The file reads as the encoding it starts in, up to the first text of the other.
    (here, breaks), (there, began) = sorted([(legacy_at, legacy), (utf8_at, utf8)], reverse=True)
    raise InputError(
        uri,
        f"mixes UTF-8 and Windows-1252 text: {breaks} on this line, after {began} on line "
        f"{line_at(path, there)}: read either way some names would be garbled; save it again as UTF-8",
        line=line_at(path, here),
    )


def _refuse_non_utf8_after_utf8_bom(path: Path, uri: str) -> None:
    """Refuse a file that starts with UTF-8's BOM and holds a byte that is not UTF-8."""
    non_utf8 = _first_non_utf8_byte(path)
    if non_utf8 is not None:
        offset, byte = non_utf8
        raise InputError(
            uri,
            f"{_as_windows_1252(byte)} is not UTF-8, which the file's byte order mark says it is: "
            "save it again as UTF-8",
            line=line_at(path, offset),
        )


def _as_windows_1252(byte: int) -> str:
    """A byte that is not UTF-8, for a message: ``byte 0xE9 ("é" in Windows-1252)``."""
    character = bytes([byte]).decode(LEGACY, errors=UNDEFINED_AS_LATIN1)
    shown = f' ("{character}" in Windows-1252)' if character.isprintable() else ""
    return f"byte 0x{byte:02X}{shown}"


def _as_utf8(sequence: bytes) -> str:
    """A UTF-8 sequence, for a message: ``"é" in UTF-8 (bytes C3 A9)``."""
    return f'"{sequence.decode(UTF8)}" in UTF-8 (bytes {sequence.hex(" ").upper()})'


def sniff_delimiter(header_line: str) -> str:
    """The delimiter a header line uses: the candidate seen most often outside quotes.

    Args:
        header_line: The file's first line, decoded.

    Returns:
        One of ``DELIMITERS``; a comma when none occurs (a one-column file).
    """
    counts = dict.fromkeys(DELIMITERS, 0)
    # Splitting on quotes leaves the unquoted stretches at the even positions.
    for outside in header_line.split(QUOTE)[::2]:
        for delimiter in DELIMITERS:
            counts[delimiter] += outside.count(delimiter)
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else CANONICAL_DELIMITER


def detect_layout(staged: StagedFile) -> TextLayout:
    """Detect a staged text file's encoding and delimiter.

    Raises:
        InputError: As :func:`detect_encoding`; or bytes in the first characters that break
            the encoding the file's BOM names (:func:`undecodable`).
    """
    encoding = detect_encoding(staged.path, staged.uri)
    try:
        with open_text(staged.path, encoding) as handle:
            head = handle.read(HEADER_SNIFF_CHARS)
    except UnicodeDecodeError:
        raise undecodable(staged, encoding) from None
    first_line = head.replace("\r\n", "\n").replace("\r", "\n").split("\n", 1)[0]
    return TextLayout(encoding=encoding, delimiter=sniff_delimiter(first_line))


def normalise_text(staged: StagedFile, staging_dir: Path) -> tuple[StagedFile, TextLayout]:
    """The file as UTF-8, comma-separated CSV: itself when it already is, else a staged copy.

    The copy is written record by record (quoted newlines, quoted delimiters and ``""`` kept
    as data), so a record stays one record and ``_source_row`` numbers match the original. A
    row with more fields than the header keeps them all, for the reader to send to the rejects.

    Args:
        staged: The file as ``stage_files`` returns it.
        staging_dir: Where the UTF-8 copy is written.

    Returns:
        The file to scan (same ``uri``) and the layout it was found in.

    Raises:
        InputError: Mixed encodings, bytes that break the encoding the file's BOM names, an
            unclosed quote, a quoted cell followed by more text (``"O"Brien``: read leniently it
            would silently become ``OBrien``), or a record the csv module cannot split (a cell
            over its field limit, :data:`~tasks.csv_field_limit.CSV_FIELD_LIMIT`).
    """
    layout = detect_layout(staged)
    if layout.canonical:
        return staged, layout
    target = staging_dir / "utf8" / f"{hashlib.sha256(staged.uri.encode()).hexdigest()[:16]}.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open_text(staged.path, layout.encoding) as source, target.open(
        "w", encoding=UTF8, newline=""
    ) as out:
        quotes = _QuoteTracker(source)
        writer = csv.writer(out, lineterminator="\n")
        # Strict, as polars reads a file already in the layout: a quoted cell followed by more
        # text is refused, not glued together without its quotes. The parser is C either way.
        records = csv.reader(quotes, delimiter=layout.delimiter, strict=True)
        try:
            writer.writerows(records)
        except csv.Error as error:
            raise _split_error(error, staged.uri, layout.delimiter, records.line_num, quotes) from error
        except UnicodeDecodeError:
            raise undecodable(staged, layout.encoding) from None
        if quotes.open_since is not None:
            raise InputError(staged.uri, "unclosed double quote", line=quotes.open_since)
    return dataclasses.replace(staged, path=target), layout


def open_text(path: Path, encoding: str) -> TextIO:
    """A text file opened for the csv module (newlines kept as written), decoded as its
    encoding is read (:data:`DECODING_ERRORS`), streaming.

    Args:
        path: The local file.
        encoding: Its encoding, as :func:`detect_encoding` found it.
    """
    return path.open(encoding=encoding, errors=DECODING_ERRORS.get(encoding, "strict"), newline="")


def _latin1_for_undefined(error: UnicodeError) -> tuple[str, int]:
    """The error handler :data:`UNDEFINED_AS_LATIN1`: the undefined bytes as Latin-1 characters.

    Called by the codec only at such a byte, so a file without one pays nothing.
    """
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error(UNDEFINED_AS_LATIN1, _latin1_for_undefined)

MARK_UNDECODABLE = "onramp-mark-undecodable"
"""The decoding error handler that writes each byte its codec cannot decode as the lone surrogate
U+DC00 + byte, as ``surrogateescape`` does for bytes over 0x7F only. A strict decoder never gives
a lone surrogate, so in text decoded with it one marks exactly the bytes that broke the codec."""
_UNDECODABLE_MARKS = re.compile("[\udc00-\udcff]+")
_CODEC_NAMES = {"utf-16": "UTF-16", "utf-32": "UTF-32"}
"""How messages name the encodings a BOM can give that may fail to decode."""


def _mark_undecodable(error: UnicodeError) -> tuple[str, int]:
    """The error handler :data:`MARK_UNDECODABLE`."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return "".join(chr(0xDC00 + byte) for byte in error.object[error.start : error.end]), error.end


codecs.register_error(MARK_UNDECODABLE, _mark_undecodable)


def undecodable(staged: StagedFile, encoding: str) -> InputError:
    """The refusal of a file with bytes its encoding cannot decode (``encoding`` comes from its
    BOM: UTF-16 or UTF-32; a file found to be UTF-8 or Windows-1252 always decodes).

    Only called once the decoding failed: the file is decoded again, marking the bad bytes
    (:data:`MARK_UNDECODABLE`), to find the physical line of the first (line breaks inside a
    quoted cell count, as an editor counts them).
    """
    with staged.path.open(encoding=encoding, errors=MARK_UNDECODABLE, newline="") as handle:
        for number, text in enumerate(handle, start=1):
            marks = _UNDECODABLE_MARKS.search(text)
            if marks:
                shown = bytes(ord(mark) - 0xDC00 for mark in marks.group()).hex(" ").upper()
                problem = (
                    f"bytes {shown} are not {_CODEC_NAMES.get(encoding, encoding)}, which the "
                    "file's byte order mark says it is: save it again as UTF-8"
                )
                return InputError(staged.uri, problem, line=number)
    return InputError(staged.uri, f"not {_CODEC_NAMES.get(encoding, encoding)} text: save it again as UTF-8")



def _split_error(error: csv.Error, uri: str, delimiter: str, line: int, quotes: _QuoteTracker) -> InputError:
    """What the strict csv module's refusal of a record means for the user.

    Args:
        error: The csv module's refusal.
        uri: The file as the user knows it.
        delimiter: The file's delimiter.
        line: The physical line the reader had reached (``reader.line_num``).
        quotes: The lines the reader was given.
    """
    if quotes.ended:
        # At the end of the file, strict mode refuses only a quoted cell still open there
        # ("unexpected end of data"): the quote parity tells where it opened.
        return InputError(uri, "unclosed double quote", line=quotes.open_since or line)
    if _is_stray_quote(error, delimiter):
        return InputError(uri, STRAY_QUOTE, line=line)
    return InputError(uri, f"cannot split a record: {error}", line=line)


def _is_stray_quote(error: csv.Error, delimiter: str) -> bool:
    """Whether the strict csv module refused a quoted cell followed by more text (``"O"Brien``).

    The csv module says so in no other way than its message (CPython's ``_csv.c``, unchanged
    since Python 2).
    """
    return str(error) == f"'{delimiter}' expected after '{QUOTE}'"


def stray_quote_refusal(error: pl.exceptions.ComputeError, path: Path | None, uri: str) -> InputError | None:
    """The InputError for polars refusing a quoted cell followed by more text in a CSV scan.

    Only called once the scan failed, so a file's normal reading pays nothing: the file is read
    again with the strict csv module, which refuses the same cells, to find the line.

    Args:
        error: Polars' error from collecting a query over the file's scan.
        path: The local CSV file the scan read (None: the line is not looked for).
        uri: The file as the user knows it.

    Returns:
        The error naming the line of the first such cell (no line if the csv module finds
        none), or None when polars refused something else (an Onramp bug, left to surface).
    """
    if _POLARS_STRAY_QUOTE not in str(error):
        return None
    line = stray_quote_line(path) if path is not None else None
    return InputError(uri, STRAY_QUOTE, line=line)


def stray_quote_line(path: Path) -> int | None:
    """The physical line of a UTF-8 CSV's first quoted cell followed by more text, else None.

    The line counts every line break, those inside quoted cells too (as an editor does).

    Args:
        path: The local file, UTF-8 (with or without a BOM), comma-separated.
    """
    with path.open(encoding=UTF8_BOM, newline="") as handle:
        records = csv.reader(handle, strict=True)
        while True:
            try:
                deque(records, maxlen=0)
            except csv.Error as error:
                if _is_stray_quote(error, CANONICAL_DELIMITER):
                    return records.line_num
                # Another refusal (a cell over the csv module's field limit, which polars
                # reads): the reader starts the next record afresh on the next line.
                continue
            return None


class _QuoteTracker:
    """The lines of a text file, noting where a quote opened that no later quote closed.

    The csv module refuses an unclosed quoted cell only at the end of the file, having
    swallowed every record after it; the parity of quotes per line tells where that began.
    """

    def __init__(self, handle: TextIO) -> None:
        self._handle = handle
        self.open_since: int | None = None
        self.ended = False

    def __iter__(self) -> Iterator[str]:
        for number, line in enumerate(self._handle, start=1):
            if line.count(QUOTE) % 2:
                self.open_since = number if self.open_since is None else None
            yield line
        self.ended = True


def _first_non_utf8_byte(path: Path) -> tuple[int, int] | None:
    """The offset and value of a file's first byte that is not UTF-8, or None when it all is."""
    for offset, piece in text_pieces(path, CHUNK_BYTES):
        position = first_non_utf8(piece)
        if position is not None:
            return offset + position, piece[position]
    return None


def line_at(path: Path, offset: int) -> int:
    """The physical line of a file's byte at ``offset``, counting from 1.

    Every line break counts, those inside quoted cells too, as an editor numbers lines (and as
    the csv module counts them): LF, CRLF, and a lone CR (old Mac line endings).
    """
    breaks = 0
    for start, piece in text_pieces(path, CHUNK_BYTES):
        before = piece[: offset - start]
        # A piece never ends between a CR and its LF: CRLF is counted once.
        breaks += before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n")
        if offset < start + len(piece):
            break
    return breaks + 1


def text_pieces(path: Path, size: int) -> Iterator[tuple[int, bytes]]:
    """A file's bytes as ``(offset, piece)``, in pieces of about ``size`` bytes.

    A piece ends on a whole UTF-8 character and never between a CR and its LF (the bytes
    after its cut open the next piece), so each piece can be checked on its own.
    """
    offset = 0
    carry = b""
    with path.open("rb") as handle:
        for block in iter(partial(handle.read, size), b""):
            chunk = carry + block
            cut = _whole_characters(chunk)
            if chunk[cut - 1 : cut] == b"\r":
                cut -= 1
            if cut:
                yield offset, chunk[:cut]
            offset += cut
            carry = chunk[cut:]
    if carry:
        yield offset, carry


def first_non_utf8(piece: bytes) -> int | None:
    """Where the first byte of ``piece`` that is not UTF-8 is, or None when it all decodes.

    Polars validates a piece several times faster than Python decodes it; Python's decoder
    runs only on a piece polars refused, to find the byte.
    """
    try:
        pl.Series([piece], dtype=pl.Binary).cast(pl.String)
    except pl.exceptions.ComputeError:
        try:
            piece.decode(UTF8)
        except UnicodeDecodeError as error:
            return error.start
        raise
    return None


def _whole_characters(chunk: bytes) -> int:
    """Where ``chunk``'s last character that may continue past it starts (else its length)."""
    for back in range(1, min(UTF8_MAX_BYTES, len(chunk)) + 1):
        byte = chunk[-back]
        if byte < UTF8_CONTINUATION:
            return len(chunk) - back + 1
        if byte >= UTF8_LEAD:
            return len(chunk) - back
    # Continuation bytes only: invalid whatever follows, the check of its piece says so.
    return len(chunk)


def _first_match(path: Path, pattern: re.Pattern[bytes]) -> tuple[int, bytes] | None:
    """The offset and bytes of the first match of a pattern of whole UTF-8 characters, streaming.

    The file is read in :func:`text_pieces`, which never cut a UTF-8 character, so no match
    spans two pieces.
    """
    for offset, piece in text_pieces(path, CHUNK_BYTES):
        match = pattern.search(piece)
        if match:
            return offset + match.start(), match.group()
    return None

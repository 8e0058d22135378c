"""Text tables as spreadsheets and European locales leave them: any common encoding, any delimiter.

A CSV re-saved by Excel arrives as UTF-8 with or without a BOM, as UTF-16 with a BOM or, with
no BOM at all, in the PC's legacy code page (Windows-1252) or, from Excel for Mac's "CSV
(Macintosh)", in Mac Roman; European Excel separates with ``;``, other tools with a tab or ``|``.
``normalise_text`` turns any of these into the one layout the readers scan: UTF-8,
comma-separated, RFC 4180 quoting. A file already in that layout is used where it is; any other
is transcoded once, streaming, into the staging folder.

Detection never guesses silently: the BOM decides, else strict UTF-8, else Windows-1252 unless
its reading garbles a word where Mac Roman's garbles none (``ZoŽ`` for ``Zoé``: the two share
ASCII and differ on every other byte), and a file read as Mac Roman is named in a warning. A file
mixing UTF-8 and Windows-1252 is refused rather than read as mojibake ("FranÃ§oise"), as is a
file that garbles a word read either way, and a file whose bytes break the encoding its BOM
names. The refusal names the physical line (as an editor counts it: the line breaks inside a
quoted cell count too) where the reading breaks.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import re
import unicodedata
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
WINDOWS_1252 = "cp1252"
MAC_ROMAN = "mac_roman"
ENCODING_NAMES = {WINDOWS_1252: "Windows-1252", MAC_ROMAN: "Mac Roman"}
"""The single-byte encodings a file without a BOM that is not UTF-8 may be in, as messages name
them: Windows' and the Mac's legacy code pages, which Excel still saves CSV files in."""

WORD_JOINERS = frozenset("’´·\u00a0\u00ad–—")
"""Characters that stand between two letters in real text, in either encoding (``O’Brien``,
``Smith–Jones``, Catalan ``l·l``, a no-break space or a soft hyphen): no evidence either way."""

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
class DetectedEncoding:
    """The encoding a text file is read in, and what its reader tells the user about it.

    Attributes:
        codec: A Python codec name (``utf-8``, ``utf-8-sig``, ``utf-16``, ``cp1252``, ...).
        note: Why the file is read in an encoding Excel on Windows does not save (Mac Roman),
            for a warning; empty otherwise.
    """

    codec: str
    note: str = ""


@dataclass(frozen=True)
class TextLayout:
    """How a text table is written.

    Attributes:
        encoding: A Python codec name (``utf-8``, ``utf-8-sig``, ``utf-16``, ``cp1252``, ...).
        delimiter: The field separator.
        note: What the reader warns about how the file is read (``DetectedEncoding.note``).
    """

    encoding: str
    delimiter: str
    note: str = ""

    @property
    def canonical(self) -> bool:
        """Whether the readers can scan the file as it is."""
        return self.encoding in SCANNED_AS_IS and self.delimiter == CANONICAL_DELIMITER


def detect_encoding(path: Path, uri: str) -> DetectedEncoding:
    """The encoding of a text file: its BOM's, else UTF-8 if every byte decodes, else the
    single-byte encoding that garbles no word of it (:func:`single_byte_encoding`).

    Args:
        path: The local file.
        uri: The file as the user knows it, for errors.

    Raises:
        InputError: The file mixes two encodings, and no single one reads it right: it has no
            BOM, is not UTF-8, and holds UTF-8 sequences for accented letters or punctuation; or
            its BOM says UTF-8 and a byte is not. The line named is where the encoding the file
            starts in (the first of the two found) breaks. Or it is in neither Windows-1252
            nor Mac Roman (:func:`single_byte_encoding`).
    """
    with path.open("rb") as handle:
        head = handle.read(4)
    for bom, encoding in BOMS:
        if head.startswith(bom):
            if encoding == UTF8_BOM:
                # Scanned as it is, by polars: a byte that is not UTF-8 would stop it mid-file.
                _refuse_non_utf8_after_utf8_bom(path, uri)
            return DetectedEncoding(encoding)
    non_utf8 = _first_non_utf8_byte(path)
    if non_utf8 is None:
        return DetectedEncoding(UTF8)
    utf8_letter = _first_match(path, _MOJIBAKE)
    if utf8_letter is None:
        return single_byte_encoding(path, uri)
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
    character = _character(byte, WINDOWS_1252)
    shown = f' ("{character}" in Windows-1252)' if character is not None and character.isprintable() else ""
    return f"byte 0x{byte:02X}{shown}"


def _character(byte: int, codec: str) -> str | None:
    """What a byte is in a single-byte encoding; None when the encoding leaves it undefined
    (0x81, 0x8D, 0x8F, 0x90, 0x9D in Windows-1252)."""
    try:
        return bytes([byte]).decode(codec)
    except UnicodeDecodeError:
        return None


def _byte_class(values: list[int]) -> bytes:
    """A regular expression's class of the bytes ``values``."""
    return b"[" + b"".join(re.escape(bytes([value])) for value in values) + b"]"


def _misreading(codec: str) -> re.Pattern[bytes]:
    """The bytes of a word a single-byte encoding garbles, each judged by the bytes beside it.

    A byte over 0x7F is garbled when it is, in ``codec``: undefined (a control character, never
    text); a capital letter after a small one (``ZoŽ``), or between a capital and a small one
    (``MŸller``); or a sign between two letters (``Gar‡on``) that is no apostrophe, dash, middle
    dot or invisible space (:data:`WORD_JOINERS`). Real names and words hold none of these, and
    the wrong one of Windows-1252 and Mac Roman makes one of most accented letters: what is a
    small accented letter in one is mostly a capital or a sign in the other.

    The pattern matches the garbled byte itself; its two lookbehinds span it and the byte
    before, so a search from a position still sees the byte before it.
    """
    characters = {value: _character(value, codec) for value in range(256)}
    categories = {value: unicodedata.category(char) for value, char in characters.items() if char is not None}
    small = [value for value, category in categories.items() if category == "Ll"]
    capitals = [value for value, category in categories.items() if category in ("Lu", "Lt")]
    letters = [value for value, category in categories.items() if category in ("Ll", "Lu", "Lt", "Lo")]
    high_capitals = [value for value in capitals if value >= UTF8_CONTINUATION]
    signs = [
        value
        for value in range(UTF8_CONTINUATION, 256)
        if value in categories and value not in letters and characters[value] not in WORD_JOINERS
    ]
    undefined = [value for value, character in characters.items() if character is None]
    small_class, capital_class, letter_class = _byte_class(small), _byte_class(capitals), _byte_class(letters)
    high_capital_class, sign_class = _byte_class(high_capitals), _byte_class(signs)
    contexts = [
        b"(?<=" + small_class + high_capital_class + b")",
        b"(?<=" + capital_class + high_capital_class + b")(?=" + small_class + b")",
        b"(?<=" + letter_class + sign_class + b")(?=" + letter_class + b")",
    ]
    if undefined:
        contexts.append(b"(?<=" + _byte_class(undefined) + b")")
    # The candidate byte first: the search skips every other byte at C speed.
    candidates = _byte_class(high_capitals + signs + undefined)
    return re.compile(candidates + b"(?:" + b"|".join(contexts) + b")", re.DOTALL)


_WINDOWS_1252_SMALL = rb"[a-z\xdf-\xf6\xf8-\xff]"
_WINDOWS_1252_CAPITAL = rb"[A-Z\xc0-\xd6\xd8-\xde]"
_WINDOWS_1252_GARBLES = re.compile(
    rb"[\x81\x8d\x8f\x90\x9d]"
    rb"|(?<=" + _WINDOWS_1252_SMALL + rb")[\x8a\x8c\x8e\x9f]"
    rb"|(?<=" + _WINDOWS_1252_CAPITAL + rb")[\x8a\x8c\x8e\x9f](?=" + _WINDOWS_1252_SMALL + rb")",
    re.DOTALL,
)
"""What only a file in another encoding holds, read as Windows-1252: a byte it leaves undefined
(Mac Roman's ``ç è ê Å ù``), or ``Š Œ Ž Ÿ`` after a small letter or between a capital and a
small one (Mac Roman's ``ä Œ é ü``: ``ZoŽ``, ``MŸller``). Nothing else counts against it: curly
quotes, ``™``, ``•`` or ``…`` touching a letter (``O‘Brien``, ``msg…will``) and an accented
capital after a small letter (``McÉvoy``) are real Windows-1252 text, which the general rule
(:func:`_misreading`) read as garbled, and a Windows-1252 file must never be read otherwise
(``OíBrien``, ``Paid Ä20``). So a Mac Roman file holding none of these (Spanish ``í ñ ó`` are
``’ – —`` in Windows-1252) is read as Windows-1252, as it always was."""

MISREADINGS = {WINDOWS_1252: _WINDOWS_1252_GARBLES, MAC_ROMAN: _misreading(MAC_ROMAN)}
"""Each single-byte encoding → the bytes of a word it garbles: Windows-1252's by what its own
text never holds (:data:`_WINDOWS_1252_GARBLES`), Mac Roman's by :func:`_misreading`."""


def first_misread(data: bytes, codec: str, start: int = 0) -> int | None:
    """Where the first byte of ``data`` that garbles a word read in ``codec`` is, or None.

    Args:
        data: Bytes of a file.
        codec: ``cp1252`` or ``mac_roman``.
        start: Where to look from; the byte before it still counts as its neighbour.
    """
    match = MISREADINGS[codec].search(data, start)
    return match.start() if match else None


def single_byte_encoding(path: Path, uri: str) -> DetectedEncoding:
    """The single-byte encoding of a file that is not UTF-8: Windows-1252, unless reading it so
    garbles a word (:data:`_WINDOWS_1252_GARBLES`) and reading it as Mac Roman garbles none
    (:func:`_misreading`).

    A Mac Roman file read as Windows-1252 would send ``ZoŽ MŸller`` for ``Zoé Müller`` and a
    control character for each ``ç``; a Windows-1252 file read as Mac Roman, ``CafÈ``. So the
    file is read in the one encoding that garbles none of its words, Windows-1252 when both
    garble none (a file of ``€``, quotes and dashes alone), and refused when both garble one.

    Args:
        path: The local file, neither UTF-8 nor marked with a BOM.
        uri: The file as the user knows it, for the note and the refusal.

    Returns:
        The encoding; read as Mac Roman, with a note naming the line and the byte that decided.

    Raises:
        InputError: Both encodings garble a word: the later of the two lines is named, with the
            byte each garbles.
    """
    windows = _first_misread_in_file(path, WINDOWS_1252)
    if windows is None:
        return DetectedEncoding(WINDOWS_1252)
    windows_at, windows_byte = windows
    mac = _first_misread_in_file(path, MAC_ROMAN)
    if mac is None:
        note = (
            f"read as Mac Roman (Excel for Mac's \"CSV (Macintosh)\"), not Windows-1252: "
            f"{_misread(windows_byte, WINDOWS_1252)} on line {line_at(path, windows_at)}; "
            "if names look wrong, save it again as UTF-8"
        )
        return DetectedEncoding(MAC_ROMAN, note)
    mac_at, mac_byte = mac
    line = line_at(path, max(windows_at, mac_at))
    if mac_at == windows_at:
        readings = f"{_reading(mac_byte, WINDOWS_1252)} and {_reading(mac_byte, MAC_ROMAN)}"
        both = f"byte 0x{mac_byte:02X} on this line is {readings}"
    else:
        misreads = [(windows_at, _misread(windows_byte, WINDOWS_1252)), (mac_at, _misread(mac_byte, MAC_ROMAN))]
        (_, later), (earlier_at, earlier) = sorted(misreads, reverse=True)
        earlier_line = line_at(path, earlier_at)
        where = "earlier on it" if earlier_line == line else f"on line {earlier_line}"
        both = f"{later} on this line, {earlier} {where}"
    raise InputError(
        uri,
        f"neither Windows-1252 nor Mac Roman reads it without garbling a word: {both}; save it again as UTF-8",
        line=line,
    )


def _misread(byte: int, codec: str) -> str:
    """A byte ``codec`` garbles a word with, for a message: ``byte 0x8E is "Ž" in Windows-1252
    ("é" in Mac Roman)``."""
    other = MAC_ROMAN if codec == WINDOWS_1252 else WINDOWS_1252
    return f"byte 0x{byte:02X} is {_reading(byte, codec)} ({_reading(byte, other)})"


def _reading(byte: int, codec: str) -> str:
    """What a byte is in ``codec``, for a message: ``"é" in Mac Roman``, ``undefined in Windows-1252``."""
    character = _character(byte, codec)
    name = ENCODING_NAMES[codec]
    return f'"{character}" in {name}' if character is not None else f"undefined in {name}"


def _first_misread_in_file(path: Path, codec: str) -> tuple[int, int] | None:
    """The offset and value of a file's first byte garbling a word read in ``codec``, streaming.

    Each piece is searched with the two bytes before it: the last byte of the piece before is
    judged again, now that the byte after it is seen, by the byte before it.
    """
    carried = b""
    for offset, piece in text_pieces(path, CHUNK_BYTES):
        window = carried + piece
        position = first_misread(window, codec, max(len(carried) - 1, 0))
        if position is not None:
            return offset - len(carried) + position, window[position]
        carried = window[-2:]
    return None


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
        with open_text(staged.path, encoding.codec) as handle:
            head = handle.read(HEADER_SNIFF_CHARS)
    except UnicodeDecodeError:
        raise undecodable(staged, encoding.codec) from None
    return TextLayout(encoding=encoding.codec, delimiter=sniff_delimiter(_first_line(head)), note=encoding.note)


def _first_line(text: str) -> str:
    """The first line of a text, whatever its line breaks."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n", 1)[0]


def header_cells(head: bytes) -> list[str] | None:
    """The cells of the first line of a text file, split at the delimiter that line uses
    (:func:`sniff_delimiter`): what tells a table saved under a name that does not say so
    (Excel's "Text (Tab delimited)" and "Unicode Text" as ``.txt``) from a README.

    Args:
        head: The file's first bytes; a character cut at their end is of no matter.

    Returns:
        The first line's cells as written; None when the bytes are no text (a NUL byte: a
        binary file, or UTF-16 without a byte order mark).
    """
    text = _head_text(head)
    if "\x00" in text:
        return None
    first_line = _first_line(text)
    return next(csv.reader([first_line], delimiter=sniff_delimiter(first_line)), [])


def _head_text(head: bytes) -> str:
    """A file's first bytes decoded well enough to read a header's names: as its BOM says, else
    UTF-8 if they are, else Windows-1252 (a header's names are read, not kept: an accented
    letter wrong in it changes nothing)."""
    for bom, encoding in BOMS:
        if head.startswith(bom):
            return head.decode(encoding, errors="replace")
    try:
        return codecs.getincrementaldecoder(UTF8)().decode(head, final=False)
    except UnicodeDecodeError:
        return head.decode(WINDOWS_1252, errors="replace")


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
    """A text file opened for the csv module (newlines kept as written), decoded strictly,
    streaming.

    Args:
        path: The local file.
        encoding: Its encoding, as :func:`detect_encoding` found it.
    """
    return path.open(encoding=encoding, newline="")


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
    BOM: UTF-16 or UTF-32; a file found to be UTF-8, Windows-1252 or Mac Roman always decodes).

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

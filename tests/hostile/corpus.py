"""A corpus of hostile inputs, built by code at test time, each with its expected behaviour.

Each case writes its files into a folder and returns the SOURCE arguments. Expected behaviour
is one of two, and nothing else (no traceback, no hang, no file outside the output folder):

- ``refused``: the run stops with one InputError line holding every fragment given;
- otherwise the run plans, reading ``rows_read`` rows and rejecting ``rows_rejected``.

Big inputs (a zip bomb declaring 2 GiB, a 5 MB cell, a million blank lines) are made small
and fast: the bomb is a few MB of repeated deflate blocks, never the GiBs it declares.
"""

from __future__ import annotations

import codecs
import os
import random
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tasks.extract.sources import MAX_SOURCE_FILES

SUBSCRIBED = "subscribed_email_audience_export_ab12.csv"
CLEANED = "cleaned_email_audience_export_ab12.csv"
MEMBER = f"audience_export_ab12/{SUBSCRIBED}"
HEADER = b"Email Address,First Name,Last Name,NOTES\r\n"
GOOD_ROWS = b"ann@example.com,Ann,Lee,hello\r\nbob@example.com,Bob,Ray,\r\n"
FORMULAS = ("=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tTAB", "\rCR", "=HYPERLINK(\"http://x\")")

DEFLATE_BLOCK_BYTES = 1 << 20
BOMB_DECLARED_BYTES = 2 << 30


@dataclass(frozen=True)
class Case:
    """One hostile input and what Onramp must do with it.

    Attributes:
        name: The test id.
        build: Writes the input under the given folder; returns the SOURCE arguments.
        refused: Fragments of the one-line error when the run must stop; empty when it plans.
        rows_read: Rows the report must count when it plans.
        rows_rejected: Rows rejects.csv must hold when it plans.
        reasons: Reasons rejects.csv must give (each at least once).
        planned_emails: Emails the import and opt-out files must hold, when given.
        bug: Why the case fails today, for a known bug outside the extract (run as a strict
            xfail, so fixing the bug makes the case say so).
    """

    name: str
    build: Callable[[Path], list[str]]
    refused: tuple[str, ...] = ()
    rows_read: int = 0
    rows_rejected: int = 0
    reasons: tuple[str, ...] = ()
    planned_emails: frozenset[str] | None = field(default=None)
    bug: str | None = None


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def zip_of(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def csv_file(name: str, data: bytes) -> Callable[[Path], list[str]]:
    return lambda folder: [str(write(folder / name, data))]


def export_zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Callable[[Path], list[str]]:
    return lambda folder: [str(zip_of(folder / "export.zip", members, method))]


def patched_zip(members: dict[str, bytes], local_offset: int, central_offset: int, value: int) -> Callable[[Path], list[str]]:
    """A zip whose only member has a 16-bit header field (flags, method) set to ``value``."""

    def build(folder: Path) -> list[str]:
        path = zip_of(folder / "export.zip", members)
        data = bytearray(path.read_bytes())
        struct.pack_into("<H", data, local_offset, value)
        struct.pack_into("<H", data, data.index(b"PK\x01\x02") + central_offset, value)
        path.write_bytes(bytes(data))
        return [str(path)]

    return build


def bomb_zip(declared: int, member: str = MEMBER) -> Callable[[Path], list[str]]:
    """A zip whose member (a CSV unless named otherwise) inflates to BOMB_DECLARED_BYTES of
    zeros and declares ``declared``.

    Deflate blocks ended by a full flush do not refer back, so one compressed megabyte of zeros
    repeated N times is a valid stream of N MB: a few MB of file, built in milliseconds.
    """

    def build(folder: Path) -> list[str]:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        block = compressor.compress(b"\0" * DEFLATE_BLOCK_BYTES) + compressor.flush(zlib.Z_FULL_FLUSH)
        data = block * (BOMB_DECLARED_BYTES // DEFLATE_BLOCK_BYTES) + compressor.flush()
        name = member.encode()
        # CRC 0: the member must be refused before anything would check it.
        fields = struct.pack("<HHHHHIIIHH", 20, 0, zipfile.ZIP_DEFLATED, 0, 0x21, 0, len(data), declared, len(name), 0)
        local = b"PK\x03\x04" + fields + name
        central = b"PK\x01\x02" + struct.pack("<H", 20) + fields + struct.pack("<HHHII", 0, 0, 0, 0, 0) + name
        end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, len(central), len(local) + len(data), 0)
        return [str(write(folder / "bomb.zip", local + data + central + end))]

    return build


def folder_with(build_inside: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        source = folder / "export"
        source.mkdir()
        build_inside(source)
        return [str(source)]

    return build


def _symlink_loop(source: Path) -> None:
    write(source / SUBSCRIBED, HEADER + GOOD_ROWS)
    (source / "again").symlink_to(source)


def _dev_zero(source: Path) -> None:
    (source / SUBSCRIBED).symlink_to("/dev/zero")


def _dangling(source: Path) -> None:
    (source / SUBSCRIBED).symlink_to(source / "gone.csv")


def _fifo(source: Path) -> None:
    os.mkfifo(source / SUBSCRIBED)


def _no_csv(source: Path) -> None:
    write(source / "readme.txt", b"nothing to see")


def _excel_lock_file(source: Path) -> None:
    """The owner file Excel keeps beside an open workbook: not a workbook, never read."""
    write(source / SUBSCRIBED, HEADER + GOOD_ROWS)
    write(source / "~$contacts.xlsx", b"\x0bJane Doe" + b"\x00" * 40)


def _symlinked_csv(source: Path) -> None:
    target = write(source.parent / "elsewhere" / "data.csv", HEADER + GOOD_ROWS)
    (source / SUBSCRIBED).symlink_to(target)


def formula_source(folder: Path) -> list[str]:
    """Formula cells in every column a person sees, in the header and in the folder's name."""
    cells = b"".join(
        f'ann{n}@example.com,"{formula}","{formula}","{formula}"\r\n'.encode() for n, formula in enumerate(FORMULAS)
    )
    numbers = b'dan@example.com,-5,"+1 619 305 8111",3.5\r\n'
    bad = b"=cmd|' /C calc'!A0,x,y,z\r\n@evil.com,x,y,z\r\n"
    header = b'Email Address,First Name,Last Name,"=HYPERLINK(""x"")"\r\n'
    write(folder / "=1+1" / "unsubscribed_email_audience_export_ab12.csv", header + b"eve@example.com,=x,-y,@z\r\n")
    return [str(write(folder / "=1+1" / SUBSCRIBED, header + cells + numbers + bad).parent)]


def _ascii_range(count: int) -> list[str]:
    return [f"c{n}" for n in range(count)]


# --- workbooks ------------------------------------------------------------------------------
XLSX_ROWS = [["Email", "First Name"], ["ann@example.com", "Ann"], ["bob@example.com", "=2+2"], ["nope", "X"], ["=1+1", "-3+1"]]
OLE2_SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")


def xlsx_bytes(sheets: list[tuple[str, list[list[str]]]]) -> bytes:
    """A workbook written by xlsxwriter, every cell a string."""
    import io

    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for name, rows in sheets:
        sheet = workbook.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                sheet.write_string(r, c, value)
    workbook.close()
    return buffer.getvalue()


def xlsx_with_sheet_xml(edit: Callable[[bytes], bytes]) -> bytes:
    """The contacts workbook with its first sheet's XML edited."""
    import io

    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes([("Contacts", XLSX_ROWS)])))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info.filename, edit(data) if info.filename == "xl/worksheets/sheet1.xml" else data)
    return buffer.getvalue()


def workbook(name: str, data: Callable[[], bytes], suffix: str = "") -> Callable[[Path], list[str]]:
    return lambda folder: [str(write(folder / name, data())) + suffix]


def _claim_huge_dimension(xml: bytes) -> bytes:
    import re

    return re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', xml)


def _far_cell(xml: bytes) -> bytes:
    return xml.replace(b"</sheetData>", b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>far</t></is></c></row></sheetData>')


_BINARY = random.Random(8).randbytes(4096)
_WIDE_HEADER = ",".join(["Email Address", *_ascii_range(1999)]).encode() + b"\n"
_WIDE_ROW = ",".join(["wide@example.com", *["=1+1"] * 1999]).encode() + b"\n"

CORPUS = [
    Case("empty-file", csv_file(SUBSCRIBED, b""), refused=(SUBSCRIBED, "empty file")),
    Case("blank-header-line", csv_file(SUBSCRIBED, b"\r\nann@example.com\r\n"), refused=(SUBSCRIBED, "empty file")),
    Case("header-only", csv_file(SUBSCRIBED, HEADER)),
    Case("no-email-column", csv_file(SUBSCRIBED, b"Name,City\nAnn,Paris\n"), refused=(SUBSCRIBED, "no email column")),
    # A file whose name carries no Mailchimp status is read as a generic contact list.
    Case("no-status-in-name", csv_file("contacts.csv", HEADER + GOOD_ROWS), rows_read=2),
    Case("binary-junk-named-csv", csv_file(SUBSCRIBED, _BINARY), refused=(SUBSCRIBED, "UTF-8")),
    Case("text-named-zip", csv_file("export.zip", b"just some text"), refused=("export.zip", "not a readable zip")),
    Case("xlsx-workbook", export_zip({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<x/>"}), refused=("export.zip", "no CSV or TSV file")),
    Case("empty-zip", export_zip({}), refused=("export.zip", "no CSV or TSV file")),
    Case(
        "zip-entries-escaping-with-dotdot",
        export_zip({f"../../../{SUBSCRIBED}": HEADER + GOOD_ROWS, f"a/../../../../{CLEANED}": HEADER + b"cat@example.com,C,D,\r\n"}),
        rows_read=3,
        planned_emails=frozenset({"ann@example.com", "bob@example.com", "cat@example.com"}),
    ),
    Case(
        "zip-entry-with-absolute-path",
        lambda folder: export_zip({str(folder / "escaped" / SUBSCRIBED): HEADER + GOOD_ROWS})(folder),
        rows_read=2,
    ),
    Case("zip-bomb-declaring-2-gib", bomb_zip(BOMB_DECLARED_BYTES), refused=(f"bomb.zip!{MEMBER}", "zip bomb")),
    Case("zip-bomb-lying-about-its-size", bomb_zip(1000), refused=(f"bomb.zip!{MEMBER}", "zip")),
    Case(
        "nested-zip",
        lambda folder: export_zip({"inner.zip": zip_of(folder / "inner.zip", {MEMBER: HEADER + GOOD_ROWS}).read_bytes()})(folder),
        refused=("export.zip", "holds a zip archive (inner.zip)"),
    ),
    Case(
        "encrypted-zip-member",
        patched_zip({MEMBER: HEADER + GOOD_ROWS}, local_offset=6, central_offset=8, value=1),
        refused=(f"export.zip!{MEMBER}", "encrypted"),
    ),
    Case(
        "zip-with-unsupported-compression",
        patched_zip({MEMBER: HEADER + GOOD_ROWS}, local_offset=8, central_offset=10, value=9),
        refused=(f"export.zip!{MEMBER}", "compression method 9"),
    ),
    Case(
        "zip-with-10000-tiny-entries-one-csv",
        export_zip({**{f"junk/{n}.txt": b"x" for n in range(10_000)}, MEMBER: HEADER + GOOD_ROWS}, zipfile.ZIP_STORED),
        rows_read=2,
    ),
    Case(
        "zip-with-10000-tiny-csvs",
        export_zip({f"{n}/{SUBSCRIBED}": HEADER for n in range(10_000)}, zipfile.ZIP_STORED),
        refused=("export.zip", f"more than {MAX_SOURCE_FILES:,}"),
    ),
    Case("very-long-member-name", export_zip({f"audience_export_ab12/subscribed_{'x' * 1000}.csv": HEADER + GOOD_ROWS}), rows_read=2),
    Case("very-long-file-name", csv_file(f"subscribed_{'y' * 230}.csv", HEADER + GOOD_ROWS), rows_read=2),
    Case(
        "5-mb-cell",
        csv_file(SUBSCRIBED, HEADER + b"big@example.com,Big,Cell," + b"n" * 5_000_000 + b"\r\n" + GOOD_ROWS),
        rows_read=3,
    ),
    Case(
        "5-mb-email-cell",
        csv_file(SUBSCRIBED, HEADER + b"x" * 5_000_000 + b"@example.com,Big,Cell,\r\n" + GOOD_ROWS),
        rows_read=3,
        rows_rejected=1,
        reasons=("invalid email address",),
    ),
    Case("5-mb-header-cell", csv_file(SUBSCRIBED, b"Email Address," + b"h" * 5_000_000 + b"\r\n"), refused=(SUBSCRIBED, "header row")),
    Case("2000-columns", csv_file(SUBSCRIBED, _WIDE_HEADER + _WIDE_ROW), rows_read=1),
    # Bytes that are not UTF-8 anywhere in the file are read as Windows-1252 (Excel's default).
    Case("invalid-utf8", csv_file(SUBSCRIBED, HEADER + GOOD_ROWS + b"cat@example.com,\xff\xfe,x,\r\n"), rows_read=3),
    Case("latin-1", csv_file(SUBSCRIBED, HEADER + "zoe@example.com,Zoë,Müller,\r\n".encode("latin-1")), rows_read=1, planned_emails=frozenset({"zoe@example.com"})),
    Case("utf16-with-bom", csv_file(SUBSCRIBED, (HEADER + GOOD_ROWS).decode().encode("utf-16")), rows_read=2),
    Case("utf16-without-bom", csv_file(SUBSCRIBED, (HEADER + GOOD_ROWS).decode().encode("utf-16-le")), refused=(SUBSCRIBED, "NUL byte")),
    Case("utf32-with-bom", csv_file(SUBSCRIBED, codecs.BOM_UTF32_LE + (HEADER + GOOD_ROWS).decode().encode("utf-32-le")), rows_read=2),
    Case("nul-bytes", csv_file(SUBSCRIBED, HEADER + GOOD_ROWS + b"cat@example.com,C\x00t,x,\r\n"), refused=(f"{SUBSCRIBED}:4", "NUL byte")),
    Case("crlf-and-lf-mixed", csv_file(SUBSCRIBED, HEADER + b"ann@example.com,Ann,Lee,\nbob@example.com,Bob,Ray,\r\n"), rows_read=2),
    Case("bare-cr-among-crlf", csv_file(SUBSCRIBED, HEADER + b"ann@example.com,Ann,Lee,\rbob@example.com,Bob\r\n"), refused=(f"{SUBSCRIBED}:2", "carriage return")),
    Case("old-mac-cr-only", csv_file(SUBSCRIBED, HEADER.replace(b"\r\n", b"\r") + GOOD_ROWS.replace(b"\r\n", b"\r")), refused=(f"{SUBSCRIBED}:1", "carriage return")),
    Case("cr-inside-a-quoted-cell", csv_file(SUBSCRIBED, HEADER + b'ann@example.com,Ann,Lee,"line\rbreak"\r\n'), rows_read=1),
    Case("unclosed-quote", csv_file(SUBSCRIBED, HEADER + GOOD_ROWS + b'cat@example.com,"Cat,x,\r\n'), refused=(f"{SUBSCRIBED}:4", "unclosed double quote")),
    Case(
        "text-after-a-quoted-cell",
        csv_file(SUBSCRIBED, HEADER + GOOD_ROWS + b'cat@example.com,Cat,"O"Brien,\r\n'),
        refused=(f"{SUBSCRIBED}:4", "a quoted cell is followed by more text"),
    ),
    Case(
        "duplicate-headers",
        csv_file(SUBSCRIBED, b"Email Address,First Name,first name,EMAIL ADDRESS\r\nann@example.com,,Ann,other@example.com\r\nbob@example.com,Bob,,bob@example.com\r\n"),
        rows_read=2,
        # Two addresses under one repeated header: neither may silently win.
        rows_rejected=1,
        reasons=("several email addresses in one row",),
        planned_emails=frozenset({"bob@example.com"}),
    ),
    Case(
        "more-fields-than-header",
        csv_file(SUBSCRIBED, HEADER + GOOD_ROWS + b"cat@example.com,C,D,E,=extra,more\r\n"),
        rows_read=3,
        rows_rejected=1,
        reasons=("more fields than the header",),
    ),
    Case(
        "formula-cells-everywhere",
        formula_source,
        rows_read=len(FORMULAS) + 4,
        rows_rejected=2,
        reasons=("invalid email address",),
    ),
    Case(
        "unicode-and-idn-emails",
        csv_file(SUBSCRIBED, "Email Address\r\nüser@exämple.com\r\nuser@xn--exmple-cua.com\r\nuser@例え.jp\r\nJOSÉ@EXAMPLE.COM\r\n".encode()),
        rows_read=4,
        # A domain in any script is HubSpot's (例え.jp), its xn-- form spelt in Unicode as one
        # address; a local part is ASCII only.
        rows_rejected=2,
        reasons=("invalid email address",),
        planned_emails=frozenset({"user@exämple.com", "user@例え.jp"}),
    ),
    Case("every-row-invalid", csv_file(SUBSCRIBED, HEADER + b",A,B,\r\n   ,C,D,\r\nnope,E,F,\r\n"), rows_read=3, rows_rejected=3, reasons=("no email address", "invalid email address")),
    Case(
        "a-million-blank-lines",
        csv_file(SUBSCRIBED, HEADER + GOOD_ROWS + b"\n" * 1_000_000),
        rows_read=1_000_002,
        rows_rejected=1_000_000,
        reasons=("blank row",),
    ),
    Case("symlink-loop-in-folder", folder_with(_symlink_loop), rows_read=2),
    Case("symlink-to-a-csv-elsewhere", folder_with(_symlinked_csv), rows_read=2),
    Case("symlink-to-dev-zero", folder_with(_dev_zero), refused=(SUBSCRIBED, "not a regular file")),
    Case("dangling-symlink", folder_with(_dangling), refused=(SUBSCRIBED, "no such file")),
    Case("named-pipe", folder_with(_fifo), refused=(SUBSCRIBED, "not a regular file")),
    Case("folder-without-csv", folder_with(_no_csv), refused=("export", "no CSV or TSV file or workbook in the folder")),
    Case("missing-source", lambda folder: [str(folder / "nowhere.zip")], refused=("nowhere.zip", "no such file")),
    Case("xlsx-truncated", workbook("contacts.xlsx", lambda: xlsx_bytes([("Contacts", XLSX_ROWS)])[:700]), refused=("contacts.xlsx", "not a readable workbook")),
    Case("xlsx-binary-junk", workbook("contacts.xlsx", lambda: _BINARY), refused=("contacts.xlsx", "not a readable workbook")),
    Case(
        "xls-that-is-a-web-page",
        workbook("report1709.xls", lambda: b"\xef\xbb\xbf\r\n<html><body><table><tr><th>Email</th></tr><tr><td>ann@example.com</td></tr></table></body></html>"),
        refused=("report1709.xls", "not a workbook but a web page under a workbook's name"),
    ),
    Case("xlsx-password-protected-ole2", workbook("contacts.xlsx", lambda: OLE2_SIGNATURE + _BINARY), refused=("contacts.xlsx", "password")),
    Case(
        "xlsx-300-sheets-contacts-last",
        workbook("contacts.xlsx", lambda: xlsx_bytes([*((f"Notes {n}", [["Topic", "Owner"], ["x", "y"]]) for n in range(300)), ("Contacts", XLSX_ROWS)])),
        rows_read=4,
        rows_rejected=2,
        reasons=("invalid email address",),
        planned_emails=frozenset({"ann@example.com", "bob@example.com"}),
    ),
    Case("xlsx-no-email-column", workbook("contacts.xlsx", lambda: xlsx_bytes([("Sheet1", [["Name", "City"], ["Ann", "Paris"]])])), refused=("contacts.xlsx", "no sheet has a contact header row")),
    Case("xlsx-named-sheet-missing", workbook("contacts.xlsx", lambda: xlsx_bytes([("Contacts", XLSX_ROWS)]), "#Nope"), refused=("contacts.xlsx", "no sheet 'Nope'")),
    Case("xlsx-huge-dimension-claim", workbook("contacts.xlsx", lambda: xlsx_with_sheet_xml(_claim_huge_dimension)), rows_read=4, rows_rejected=2),
    Case("xlsx-one-cell-at-xfd1048576", workbook("contacts.xlsx", lambda: xlsx_with_sheet_xml(_far_cell)), refused=("contacts.xlsx", "spans 17,179,869,184 cells")),
    # Workbooks inside a zip or folder are read like workbooks given alone, behind the zip's own checks.
    Case("xlsx-member-zip-bomb", bomb_zip(BOMB_DECLARED_BYTES, "export/contacts.xlsx"), refused=("bomb.zip!export/contacts.xlsx", "zip bomb")),
    Case("xlsx-member-lying-about-its-size", bomb_zip(1000, "contacts.xlsx"), refused=("bomb.zip!contacts.xlsx", "zip")),
    Case("xlsx-member-truncated", export_zip({"contacts.xlsx": xlsx_bytes([("Contacts", XLSX_ROWS)])[:700]}), refused=("export.zip!contacts.xlsx", "not a readable workbook")),
    Case(
        "xlsx-member-one-cell-at-xfd1048576",
        export_zip({"contacts.xlsx": xlsx_with_sheet_xml(_far_cell)}),
        refused=("export.zip!contacts.xlsx", "spans 17,179,869,184 cells"),
    ),
    Case(
        "xlsx-and-csv-in-one-zip",
        lambda folder: export_zip({MEMBER: HEADER + GOOD_ROWS, "crm/contacts.xlsx": xlsx_bytes([("Contacts", XLSX_ROWS)])})(folder),
        rows_read=6,
        rows_rejected=2,
        reasons=("invalid email address",),
        planned_emails=frozenset({"ann@example.com", "bob@example.com"}),
    ),
    Case("excel-lock-file-in-folder", folder_with(_excel_lock_file), rows_read=2),
    Case("xlsx-empty-workbook-sheet", workbook("contacts.xlsx", lambda: xlsx_bytes([("Sheet1", [])])), refused=("contacts.xlsx", "no sheet has a contact header row")),
]

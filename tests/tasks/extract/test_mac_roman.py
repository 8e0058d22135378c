"""Excel for Mac's "CSV (Macintosh)" (Mac Roman) told from Windows-1252, by the words each garbles.

A Mac Roman file read as Windows-1252 sent ``ZoŽ MŸller`` for ``Zoé Müller`` and a control
character (U+008D) for each ``ç``, without a word. The file is now read in the one encoding that
garbles none of its words, with a warning when that is Mac Roman, and refused, naming the line
and the byte each encoding garbles, when both garble one.
"""

from __future__ import annotations

import pytest

from tasks.errors import InputError
from tasks.extract.text import CHUNK_BYTES, MAC_ROMAN, WINDOWS_1252, detect_encoding, first_misread
from tasks.report import source_warnings
from tests.plain_plan import plan
from tests.tasks.extract.test_tables import planned

MAC_WORDS = ["Zoé", "Müller", "François", "Garçon", "Hélène", "Jürgen", "Bär", "Crème", "fête"]
"""Words of a Mac Roman file that Windows-1252 garbles in a way its own text never holds: ZoŽ,
MŸller, Fran<U+008D>ois, Gar<U+008D>on, HŽl<U+008F>ne, JŸrgen, BŠr, Cr<U+008F>me, f<U+0090>te
(a <U+00xx>: a byte it leaves undefined)."""

MAC_WORDS_READ_AS_WINDOWS_1252 = ["Sánchez", "María", "Peña", "don’t", "Noël"]
"""Mac Roman words Windows-1252 reads as text of its own (S‡nchez, Mar’a, Pe–a, donÕt, No‘l): a
file holding only such words is read as Windows-1252, as it always was; telling them apart would
read real Windows-1252 text (``O‘Brien``, ``McÉvoy``) as Mac Roman."""

WINDOWS_WORDS = [
    "Zoé", "Müller", "François", "Renée", "“VIP”", "O’Brien", "€100", "ÉLODIE", "Ñandú", "Smith–Jones", "cœur", "Šárka",
    "O‘Brien", "“Mary”", "Trade™Mark", "a•b", "msg…will", "McÉvoy", "na hÉireann",
]  # fmt: skip
"""Words of a Windows-1252 file: accented letters, curly quotes touching letters, a dash, the
euro, ``™``, ``…``, an accented capital after a small letter."""


@pytest.mark.parametrize("word", MAC_WORDS)
def test_windows_1252_garbles_a_mac_roman_word_and_mac_roman_reads_it(word):
    data = f"a@x.com,{word},x\r".encode(MAC_ROMAN)
    assert first_misread(data, WINDOWS_1252) is not None
    assert first_misread(data, MAC_ROMAN) is None


@pytest.mark.parametrize("word", MAC_WORDS_READ_AS_WINDOWS_1252)
def test_mac_roman_words_windows_1252_reads_as_its_own_text_are_not_evidence(word):
    assert first_misread(f"a@x.com,{word},x\r".encode(MAC_ROMAN), WINDOWS_1252) is None


@pytest.mark.parametrize("word", WINDOWS_WORDS)
def test_windows_1252_garbles_none_of_its_own_words(word):
    assert first_misread(f"a@x.com,{word},x\r\n".encode(WINDOWS_1252), WINDOWS_1252) is None


def test_the_garbled_byte_is_the_one_named():
    # "Zo" then 0x8E: Ž after a small letter in Windows-1252.
    assert first_misread("a@x.com,Zoé".encode(MAC_ROMAN), WINDOWS_1252) == 10
    # Searched from the byte itself, the byte before it still counts as its neighbour.
    assert first_misread("a@x.com,Zoé".encode(MAC_ROMAN), WINDOWS_1252, 10) == 10


def test_bytes_windows_1252_leaves_undefined_are_garbled_wherever_they_stand():
    for byte in (0x81, 0x8D, 0x8F, 0x90, 0x9D):
        assert first_misread(b"a@x.com, " + bytes([byte]) + b" ", WINDOWS_1252) == 9


def detected(tmp_path, data: bytes) -> tuple[str, str]:
    source = tmp_path / "contacts.csv"
    source.write_bytes(data)
    encoding = detect_encoding(source, str(source))
    return encoding.codec, encoding.note


def test_a_mac_roman_file_is_read_as_mac_roman_and_says_why(tmp_path):
    data = "Email,First Name,Last Name\rmr1@example.com,Zoé,Müller\rmr2@example.com,François,Garçon\r".encode(MAC_ROMAN)
    assert detected(tmp_path, data) == (
        MAC_ROMAN,
        'read as Mac Roman (Excel for Mac\'s "CSV (Macintosh)"), not Windows-1252: byte 0x8E is "Ž" in Windows-1252 '
        '("é" in Mac Roman) on line 2; if names look wrong, save it again as UTF-8',
    )


def test_a_mac_roman_file_with_curly_quotes_and_accents_is_read_as_mac_roman(tmp_path):
    data = "Email,Name\ra@x.com,“Françoise” d’Arc\rb@x.com,Renée\r".encode(MAC_ROMAN)
    assert detected(tmp_path, data)[0] == MAC_ROMAN


@pytest.mark.parametrize(
    "text",
    [
        "Email,Name,Note\r\na@x.com,Zoé Müller,“VIP” – €100\r\nb@x.com,O’Brien,ÉLODIE — Ñandú\r\n",
        # A few curly quotes among accented letters: in Mac Roman ” ’ would be letters, é a capital.
        "Email,Name\r\na@x.com,“Françoise” d’Arc\r\nb@x.com,Renée\r\n",
        # Punctuation alone garbles no word either way: Windows-1252, as Excel on Windows saves.
        "Email,Note\r\na@x.com,“VIP” – €100\r\n",
    ],
    ids=["accents-quotes-dashes-euro", "curly-quotes-among-accents", "punctuation-only"],
)
def test_a_windows_1252_file_is_still_read_as_windows_1252_without_a_note(tmp_path, text):
    assert detected(tmp_path, text.encode(WINDOWS_1252)) == (WINDOWS_1252, "")


def test_a_file_garbled_either_way_is_refused_naming_both_bytes_and_lines(tmp_path):
    source = tmp_path / "contacts.csv"
    source.write_bytes("Email,Name\na@x.com,Renée\n".encode(WINDOWS_1252) + "b@x.com,Zoé\n".encode(MAC_ROMAN))
    with pytest.raises(InputError) as refused:
        detect_encoding(source, str(source))
    assert (refused.value.line, refused.value.problem) == (
        3,
        'neither Windows-1252 nor Mac Roman reads it without garbling a word: byte 0x8E is "Ž" in Windows-1252 '
        '("é" in Mac Roman) on this line, byte 0xE9 is "È" in Mac Roman ("é" in Windows-1252) on line 2; '
        "save it again as UTF-8",
    )


def test_a_word_cut_between_two_pieces_of_the_file_is_still_judged(tmp_path):
    # The first piece ends with "Zo", the next starts with Mac Roman's é: the garbled byte is
    # judged by the byte before it, in the piece before.
    header, row, cut_word = b"Email,Name\r", b"p@example.com,Ann\r", b"a@x.com,Zo"
    rows = row * ((CHUNK_BYTES - len(header) - len(cut_word)) // len(row))
    head = header + rows + b"x" * (CHUNK_BYTES - len(header) - len(rows) - len(cut_word)) + cut_word
    assert len(head) == CHUNK_BYTES
    codec, note = detected(tmp_path, head + "é\r".encode(MAC_ROMAN))
    assert codec == MAC_ROMAN
    line = head.count(b"\r") + 1
    assert note.endswith(f"on line {line}; if names look wrong, save it again as UTF-8")


def test_a_mac_roman_export_is_planned_with_its_names_intact(tmp_path):
    source = tmp_path / "contacts.csv"
    rows = ["Email,First Name,Last Name,Subscribed", "mr1@example.com,Zoé,Müller,yes", "mr2@example.com,François,Garçon,yes"]
    source.write_bytes("\r".join(rows).encode(MAC_ROMAN) + b"\r")

    report = plan([str(source)], tmp_path / "out")

    contacts = planned(tmp_path / "out")["contacts-marketing-001.csv"]
    assert {email: (row["firstname"], row["lastname"]) for email, row in contacts.items()} == {
        "mr1@example.com": ("Zoé", "Müller"),
        "mr2@example.com": ("François", "Garçon"),
    }
    # The warning reaches report.json and the run's warnings, not the run's log alone.
    note = (
        'read as Mac Roman (Excel for Mac\'s "CSV (Macintosh)"), not Windows-1252: byte 0x8E is "Ž" in Windows-1252 '
        '("é" in Mac Roman) on line 2; if names look wrong, save it again as UTF-8'
    )
    assert report["sources"][0]["notes"] == [note]
    assert source_warnings(report) == [f"warning: {source}: {note}"]


def test_a_file_read_as_it_was_saved_carries_no_note(tmp_path):
    source = tmp_path / "contacts.csv"
    source.write_bytes("Email,First Name\r\nw1@example.com,Zoé\r\nw2@example.com,O’Brien\r\n".encode(WINDOWS_1252))

    report = plan([str(source)], tmp_path / "out")

    assert report["sources"][0]["notes"] == []
    assert source_warnings(report) == []

"""An opt-out column no rule reads, in the words of any language an export is written in (a German
"Abgemeldet am", an English "No Email"), stops a plain file's plan in one line until a mapping
says what it holds, rather than its rows being marketed on a ``Newsletter`` yes; the ordinary
headers of those languages stay accepted."""

from __future__ import annotations

import pytest

from tasks.errors import InputError
from tasks.transform.catalog import looks_like_consent
from tests.plain_plan import plan
from tests.tasks.extract.test_tables import outcomes, read_one, write_csv

OPT_OUT_HEADERS = [
    # German
    "Abgemeldet am", "Von allen E-Mails abgemeldet", "Newsletter-Abmeldung", "Abbestellt", "Keine Werbung", "Keine E-Mails",
    "Werbewiderspruch", "Einwilligung Newsletter",
    # French
    "Désinscrit le", "Desinscrit", "Désabonné de tous les e-mails", "Ne pas contacter",
    # Spanish, Portuguese, Italian, Dutch
    "Dado de baja", "Fecha de baja", "Desuscrito", "No enviar", "Descadastrado", "Disiscritto", "Consenso marketing",
    "Afgemeld", "Uitgeschreven", "Niet mailen", "Toestemming",
    # English
    "No Email", "No Emails", "No Marketing", "No Mail", "Do Not Solicit", "Solicit Codes", "Remove From Mailing List",
    "Removed From List", "Stop Emails", "Stop Marketing", "Don't Email", "Don’t Email", "Do not send", "Mailable",
    # Found missing by the re-audit: German's masculine form, Robinson lists, Dutch, Italian
    # HubSpot, Spanish, French objections.
    "Kein Newsletter", "Robinsonliste", "Werbesperre", "Nicht kontaktieren", "Geen nieuwsbrief", "Geen e-mail",
    "Uitschrijfdatum", "Uitschrijven", "Annullata iscrizione a tutte le email", "No desea recibir", "Cancelar suscripción",
    "Opposition", "Refus de sollicitation",
]  # fmt: skip

ORDINARY_HEADERS = [
    "Email", "Name", "First Name", "Status", "Stop", "No.", "Phone No", "No. of Employees", "Solicitor", "Removed", "Notes",
    "Mailing City", "Newsletter", "No Mailing Address", "Mailing Address", "Kein", "Refusal Reason",
    "E-Mail", "Vorname", "Nachname", "Abteilung", "Anmeldedatum", "Anmeldung", "Straße", "Postleitzahl", "Erstellungsdatum",
    "Courriel", "Prénom", "Nom", "Société", "Ville", "Date de création",
    "Correo electrónico", "Nombre", "Apellidos", "Empresa", "Código postal", "Fecha de alta", "Teléfono",
]  # fmt: skip


@pytest.mark.parametrize("header", OPT_OUT_HEADERS)
def test_an_opt_out_header_in_any_language_looks_like_consent(header):
    assert looks_like_consent(header)


@pytest.mark.parametrize("header", ORDINARY_HEADERS)
def test_an_ordinary_header_in_any_language_does_not(header):
    assert not looks_like_consent(header)


@pytest.mark.parametrize(
    ("name", "headers", "column"),
    [
        ("kunden.csv", ["E-Mail", "Vorname", "Nachname", "Newsletter", "Abgemeldet am"], "Abgemeldet am"),
        ("clients.csv", ["Courriel", "Prénom", "Nom", "Newsletter", "Désinscrit le"], "Désinscrit le"),
        ("clientes.csv", ["Correo electrónico", "Nombre", "Apellidos", "Newsletter", "Dado de baja"], "Dado de baja"),
        (
            "hubspot-crm-exports-alle-kontakte.csv",
            ["Datensatz-ID", "Vorname", "Nachname", "E-Mail", "Von allen E-Mails abgemeldet"],
            "Von allen E-Mails abgemeldet",
        ),
        ("members.csv", ["Email", "First Name", "Newsletter", "Do Not Solicit"], "Do Not Solicit"),
        ("members.csv", ["Email", "First Name", "Newsletter", "Remove From Mailing List"], "Remove From Mailing List"),
    ],
)
def test_a_plain_file_with_such_a_column_no_rule_reads_is_refused_in_one_line(tmp_path, name, headers, column):
    def row(email: str, opted_out: str) -> list[str]:
        cells = {headers[0 if "Newsletter" in headers else 3]: email, column: opted_out, "Newsletter": "yes"}
        return [cells.get(header, "x") for header in headers]

    source = write_csv(tmp_path / name, headers, [row("ann@x.com", ""), row("bob@x.com", "yes")], delimiter=";")
    with pytest.raises(InputError) as refused:
        plan([str(source)], tmp_path / "out")
    message = str(refused.value)
    assert message.startswith(f"{source}:1: the generic profile reads no consent from {column!r}")
    assert "[[status.rules]]" in message and "\n" not in message
    assert not (tmp_path / "out" / "hubspot").exists()


def test_a_localised_list_of_ordinary_headers_is_read(tmp_path):
    headers = ["E-Mail", "Vorname", "Nachname", "Abteilung", "Anmeldedatum", "Newsletter"]
    rows = [["ann@x.com", "Anna", "Lee", "Vertrieb", "01.02.2024", "Ja"]]
    source = write_csv(tmp_path / "kunden.csv", headers, rows, delimiter=";")
    assert outcomes(read_one(source, tmp_path)) == {"ann@x.com": "marketing"}

"""CSV as spreadsheets write it: `;` and tab separators (sniffed), byte-order marks, UTF-16 and
Windows-1252, Excel's quoting, headers in any order with looser names or a mapping; imported by
the CLI and by both Python clients, per-row results, and safe to run twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from leadgate.client import AsyncClient, Client
from leadgate.leads.csv_format import CsvUnreadable, read_lead_rows, sniff_delimiter
from leadgate.models import Lead
from tests.conftest import Backend, Cli
from tests.factories import count_rows, create_tenant

# What Excel (German or French locale) saves as "CSV UTF-8 (comma delimited)": a BOM, `;`,
# CRLF rows, quotes doubled inside quoted cells, a cell's line break (Alt+Enter: LF), the
# columns in the spreadsheet's order and words.
EXCEL_SEMICOLON = (
    "\ufeffLast Name;First Name;E-Mail;Company;Phone;Address\r\n"
    'Müller;Jürgen;juergen@example.de;"Müller; Söhne GmbH";+49 30 901820;'
    '"Hauptstr. 1\n10115 Berlin"\r\n'
    'O\'Brien;Siobhán;siobhan@example.ie;"The ""Best"" Pub";;\r\n'
    "Lovelace;Ada;ada@example.org;;;\r\n"
    ";;;;;\r\n"
)


def leads(client: httpx.Client, tenant_key: str) -> list[dict[str, object]]:
    response = client.get("/api/v1/leads", params={"limit": 100}, headers={"X-API-Key": tenant_key})
    return list(response.json()["data"])


def test_excel_semicolon_csv_with_a_bom_imported_twice_by_the_cli(
    backend: Backend,
    client: httpx.Client,
    cli: Cli,
    tmp_path: Path,
) -> None:
    tenant = create_tenant(backend)
    path = tmp_path / "excel.csv"
    path.write_bytes(EXCEL_SEMICOLON.encode("utf-8"))
    first = cli("leads", "import", "--tenant", tenant.slug, str(path))
    assert first.exit_code == 0, first.output
    assert "3 rows: 3 created, 0 merged, 0 duplicates, 0 invalid" in first.stdout
    found = {lead["lastName"]: lead for lead in leads(client, tenant.key)}
    assert found["Müller"]["company"] == "Müller; Söhne GmbH"
    assert found["Müller"]["address"] == "Hauptstr. 1\n10115 Berlin"
    assert found["Müller"]["phone"] == "+4930901820"
    assert found["O'Brien"]["company"] == 'The "Best" Pub'
    assert found["O'Brien"]["firstName"] == "Siobhán"

    again = cli("leads", "import", "--tenant", tenant.slug, str(path))
    assert again.exit_code == 0, again.output
    assert "3 rows: 0 created, 0 merged, 3 duplicates, 0 invalid" in again.stdout
    assert count_rows(backend, Lead, tenant.id) == 3


def test_cli_encoding_delimiter_and_column_mapping(
    backend: Backend,
    cli: Cli,
    tmp_path: Path,
) -> None:
    tenant = create_tenant(backend)
    path = tmp_path / "latin1.csv"
    path.write_bytes("Vorname|Nachname|Ort\nJosé|Ñúñez|Málaga\n".encode("cp1252"))
    refused = cli("leads", "import", "--tenant", tenant.slug, str(path))
    assert refused.exit_code == 1
    assert "unknown columns: Vorname, Nachname, Ort" in refused.output
    assert count_rows(backend, Lead, tenant.id) == 0
    mapped = cli(
        "leads", "import", "--tenant", tenant.slug, "--delimiter", "|", "--encoding", "cp1252",
        "--column", "Vorname=firstName", "--column", "Nachname=lastName", "--column", "Ort=city",
        str(path),
    )  # fmt: skip
    assert mapped.exit_code == 0, mapped.output
    assert "1 created" in mapped.stdout
    bad = cli("leads", "import", "--tenant", tenant.slug, "--column", "Vorname", str(path))
    assert bad.exit_code == 1
    assert count_rows(backend, Lead, tenant.id) == 1


def test_clients_import_tab_separated_utf16_and_windows_1252(backend: Backend) -> None:
    tenant = create_tenant(backend)
    # Excel's "Unicode Text": UTF-16 with a BOM, tab-separated.
    unicode_text = "firstName\tlastName\temail\nZoë\tBrontë\tzoe@example.com\nX\t\t\n"
    windows = "first_name,LAST_NAME,zip\r\nRené,Descartes,75005\r\n".encode("cp1252")
    with Client(tenant.key, backend.url) as leadgate:
        report = leadgate.import_leads_csv(unicode_text.encode("utf-16"))
        assert [(row.line, row.item.status) for row in report.rows] == [
            (2, "created"),
            (3, "invalid"),
        ]
        assert report.rows[1].item.error is not None
        assert report.count("created") == 1
        again = leadgate.import_leads_csv(unicode_text.encode("utf-16"))
        assert again.count("duplicate") == 1
        assert again.count("created") == 0

    async def work() -> None:
        async with AsyncClient(tenant.key, backend.url) as leadgate:
            report = await leadgate.import_leads_csv(windows)
            [row] = report.rows
            assert row.item.status == "created"
            assert row.item.lead is not None
            assert (row.item.lead.first_name, row.item.lead.zipcode) == ("René", "75005")
            mapped = await leadgate.import_leads_csv(
                "Nom;Prénom\nCurie;Marie\n", mapping={"Nom": "lastName", "Prénom": "firstName"}
            )
            assert [r.item.status for r in mapped.rows] == ["created"]

    asyncio.run(work())
    assert count_rows(backend, Lead, tenant.id) == 3


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("a,b\n1,2\n", ","),
        ("a;b\n1;2\n", ";"),
        ("a\tb\n1\t2\n", "\t"),
        ('a;b\n"1,5";2\n', ";"),
        ("firstName;lastName\n", ";"),
    ],
)
def test_sniffing(text: str, delimiter: str) -> None:
    assert sniff_delimiter(text) == delimiter


def test_unreadable_files() -> None:
    with pytest.raises(CsvUnreadable, match="empty"):
        read_lead_rows(b"")
    with pytest.raises(CsvUnreadable, match="must name firstName"):
        read_lead_rows(b"email\nx@example.com\n")
    with pytest.raises(CsvUnreadable, match="cannot read the file as utf-8"):
        read_lead_rows("firstName,lastName\nJosé,X\n".encode("cp1252"), encoding="utf-8")
    with pytest.raises(CsvUnreadable, match="not a column: shoeSize"):
        read_lead_rows(b"firstName,lastName,x\n", mapping={"x": "shoeSize"})

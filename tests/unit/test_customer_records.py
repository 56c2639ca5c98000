"""The customer CSV reader (issue 12): spreadsheet row numbers, one problem per bad row that never
quotes a value, empty cells as "not given", and the header as the contract."""

from __future__ import annotations

from mailbot.domain.customer_records import CustomerRecord, field_problem, parse_customers_csv

HEADER = "name,company,address,email,phone\n"


def test_a_multi_line_address_is_kept_and_row_numbers_follow_the_records() -> None:
    text = HEADER + 'Jan,,"Dorpsstraat 1\n  1234 AB Ergens ",jan@voorbeeld.nl,\nPiet,,,x,\n'
    parsed = parse_customers_csv(text)
    assert parsed.records == [
        (2, CustomerRecord(email="jan@voorbeeld.nl", name="Jan", address="Dorpsstraat 1\n1234 AB Ergens"))
    ]
    assert [str(p) for p in parsed.problems] == ["row 3: email is not a valid e-mail address"]


def test_empty_cells_are_not_given_and_columns_may_be_left_out_or_reordered() -> None:
    parsed = parse_customers_csv("Email;Name\r\njan@voorbeeld.nl;\r\n;\r\n")
    assert parsed.problems == []
    [(_, record)] = parsed.records
    assert record.given() == {} and record.email == "jan@voorbeeld.nl"


def test_a_doubled_column_and_a_control_character_are_problems() -> None:
    assert [str(p) for p in parse_customers_csv("email,email\na@b.nl,c@d.nl\n").problems] == [
        "row 1: column(s) email appear more than once"
    ]
    problems = parse_customers_csv(HEADER + "Jan\x07,,,jan@voorbeeld.nl,\n").problems
    assert [str(p) for p in problems] == ["row 2: name contains control characters"]


def test_problems_never_quote_the_value() -> None:
    for name, value in [("email", "geheim@@x"), ("phone", "geheim12"), ("name", "geheim" * 50)]:
        problem = field_problem(name, value)
        assert problem is not None and "geheim" not in problem


def test_the_same_person_twice_in_any_spelling_is_refused() -> None:
    parsed = parse_customers_csv(HEADER + ",,,Jan@Voorbeeld.nl,\n,,,jan@voorbeeld.NL ,\n")
    assert [str(p) for p in parsed.problems] == ["row 3: same email as row 2"]

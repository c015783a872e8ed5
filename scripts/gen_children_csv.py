#!/usr/bin/env python3
"""Writes a children import CSV with N rows for the Vejle demo institutions.

Usage: gen_children_csv.py N > children.csv
Every child gets a valid, unique CPR number matching its birth date, one enrolment and two
guardians, so the file exercises every check of the import.
"""
import random
import sys

FIRST = ["Alma", "Noah", "Ida", "Oscar", "Freja", "William", "Ella", "Karl", "Sofia", "Aksel", "Clara",
         "Emil", "Agnes", "Malthe", "Luna", "Alfred", "Asta", "Valdemar", "Olivia", "Carl", "Yusuf", "Amira"]
LAST = ["Nielsen", "Jensen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen",
        "Rasmussen", "Jørgensen", "Petersen", "Madsen", "Kristensen", "Olsen", "Thomsen", "Ali", "Yilmaz"]
INSTITUTIONS = ["Børnehaven Solsikken", "Børnehaven Mariehønen", "Børnehaven Skovtrolden"]
GROUPS = ["Myretuen", "Sommerfuglene", "Bæverne", "Rævene"]


def main() -> None:
    n = int(sys.argv[1])
    rng = random.Random(42)
    cols = ["fornavn", "efternavn", "fødselsdato", "cpr", "institution", "gruppe", "startdato", "slutdato"]
    for g in (1, 2):
        cols += [f"forælder{g}_{f}" for f in ("navn", "relation", "email", "telefon", "forældremyndighed")]
    out = sys.stdout
    per_date: dict = {}
    out.write(";".join(cols) + "\n")
    for i in range(n):
        year = 2019 + i % 3
        day_of_year = rng.randrange(0, 365)
        month = 1 + day_of_year // 31
        day = 1 + day_of_year % 28
        # Serial digits 5000-8999: seventh digit 5-8 means born in the 2000s for years <= 57.
        date = f"{day:02d}{month:02d}{year % 100:02d}"
        per_date[date] = per_date.get(date, -1) + 1
        cpr = f"{date}-{5000 + per_date[date]:04d}"
        last = rng.choice(LAST)
        row = [rng.choice(FIRST), last, f"{day:02d}-{month:02d}-{year}", cpr, rng.choice(INSTITUTIONS),
               rng.choice(GROUPS), f"01-08-{year + 3}", ""]
        row += [f"{rng.choice(FIRST)} {last}", "mor", f"forælder{i}a@example.dk", f"{20000000 + i}", "ja"]
        row += [f"{rng.choice(FIRST)} {last}", "far", "", f"{30000000 + i}", "ja"]
        out.write(";".join(row) + "\n")


if __name__ == "__main__":
    main()

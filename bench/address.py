"""6. Address search: amk.selectors.addresses over 1.1 million synthetic access addresses.

Queries are made from addresses drawn from the register, typed six ways a dispatcher might:
in full ("Søndergade 12, 8000 Aarhus C"), with a one-letter typo and the postcode, with ø/æ/å
typed as o/a/a and the town, as a street prefix still being typed (no number, no town), with
the town instead of the postcode, and transliterated (oe/ae/aa) with the postcode. (A street
and number alone is ambiguous: the synthetic set has the same common street names in every
postcode, as Denmark has a Søndergade in most towns.) Each is timed in Python around the call
the console makes (the planner setting and the search in one round trip). Baseline, alternating
with it: the plain indexed lookup of the same address by street, postcode and house number.
``docs_merge`` writes the figures into docs/benchmarks.json and a section of
docs/benchmarks.md, leaving the other sections' figures as they are.
"""

from __future__ import annotations

import json
import random
import re
import time

from bench.common import ROOT, log, summary_ms

COUNT = 1_100_000
TARGET_P95_MS = 30.0
DOCS = ROOT / "docs"
MD_START, MD_END = "<!-- address:start -->", "<!-- address:end -->"
TARGET = f"address search p95 ≤ {TARGET_P95_MS:g} ms (1.1M addresses)"

BASELINE_SQL = """
    SELECT id, street_name, house_number, postcode, postcode_name, point
    FROM amk_accessaddress WHERE street_name = %s AND postcode = %s AND house_number = %s
"""

_ASCII = str.maketrans({"ø": "o", "æ": "a", "å": "a", "Ø": "O", "Æ": "A", "Å": "A"})
_TRANSLIT = str.maketrans({"ø": "oe", "æ": "ae", "å": "aa", "Ø": "Oe", "Æ": "Ae", "Å": "Aa"})


def prepare(count: int = COUNT) -> dict:
    """The synthetic register at full size, the few real addresses, statistics."""
    from django.conf import settings
    from django.db import connection

    from amk.models import AccessAddress, AddressStreet
    from amk.services.addresses import addresses_import
    from amk.services.addresses_synthetic import synthetic_addresses_generate

    started = time.time()
    # A register of the right size from an earlier run is used again (the ids are the same).
    reused = AccessAddress.objects.filter(synthetic=True).count() == count
    if not reused:
        synthetic_addresses_generate(count=count)
    generated_s = time.time() - started
    addresses_import(path=settings.REFERENCE_DATA_DIR / "addresses" / "demo_adgangsadresser.json")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE amk_accessaddress")
        cursor.execute("VACUUM ANALYZE amk_addressstreet")
    result = {
        "addresses": AccessAddress.objects.count(),
        "streets": AddressStreet.objects.count(),
        "generated_s": None if reused else round(generated_s, 1),
        "prepared_s": round(time.time() - started, 1),
    }
    log(f"address register: {result}")
    return result


def _typo(word: str, rng: random.Random) -> str:
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    if len(letters) < 5:
        return word
    i = rng.choice(letters[1:-1])
    return word[:i] + word[i + 1 :] if rng.random() < 0.5 else word[:i] + word[i] + word[i:]


def queries(count: int, seed: int = 11) -> list[tuple[str, tuple[str, str, str], str]]:
    """(typed text, the address meant, the form) for addresses drawn from the register."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.11)")
        cursor.execute(
            "SELECT street_name, house_number, postcode, postcode_name FROM amk_accessaddress "
            "TABLESAMPLE BERNOULLI (1) REPEATABLE (11) LIMIT %s",
            [count],
        )
        rows = cursor.fetchall()
    rng = random.Random(seed)
    rng.shuffle(rows)
    made = []
    for i, (street, number, postcode, town) in enumerate(rows):
        form = ("full", "typo", "ascii", "prefix", "town", "translit")[i % 6]
        text = {
            "full": f"{street} {number}, {postcode} {town}",
            "typo": f"{_typo(street, rng)} {number}, {postcode}",
            "ascii": f"{street.translate(_ASCII)} {number} {town}",
            "prefix": street[: max(3, round(len(street) * 0.6))],
            "town": f"{street} {number} {re.sub(r' [A-ZØ]$', '', town)}",
            "translit": f"{street.translate(_TRANSLIT)} {number} {postcode}",
        }[form]
        made.append((text, (street, number, postcode), form))
    return made


def _found(matches, meant: tuple[str, str, str], form: str) -> bool:
    street, number, postcode = meant
    if form == "prefix":
        return any(m.label.startswith(f"{street},") for m in matches)
    return any(m.label.startswith(f"{street} {number},") and postcode in m.label for m in matches)


def measure(*, iterations: int = 1200, warmup: int = 100) -> dict:
    from django.db import connection

    from amk.selectors.addresses import address_search_local

    typed = queries(iterations + warmup)
    rng = random.Random(3)
    search, baseline, hits = [], [], {}

    def run_search(text: str):
        started = time.perf_counter()
        matches = address_search_local(query=text, limit=10)
        return time.perf_counter() - started, matches

    def run_baseline(meant) -> float:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(BASELINE_SQL, list(meant))
            cursor.fetchall()
        return time.perf_counter() - started

    for i, (text, meant, form) in enumerate(typed):
        if rng.random() < 0.5:
            s, matches = run_search(text)
            b = run_baseline(meant)
        else:
            b = run_baseline(meant)
            s, matches = run_search(text)
        if i >= warmup:
            search.append(s)
            baseline.append(b)
            found, total = hits.get(form, (0, 0))
            hits[form] = (found + _found(matches, meant, form), total + 1)
    result = {
        "search": summary_ms(search),
        "baseline": summary_ms(baseline),
        "found_in_top10": {form: round(f / t, 3) for form, (f, t) in sorted(hits.items())},
        "examples": sorted({f"{form}: {text}" for text, _, form in typed[warmup : warmup + 12]}),
    }
    result["ratio_p95"] = round(result["search"]["p95_ms"] / result["baseline"]["p95_ms"], 1)
    log(
        f"address search: p50 {result['search']['p50_ms']} ms, p95 {result['search']['p95_ms']}"
        f" ms; exact lookup p95 {result['baseline']['p95_ms']} ms; ratio {result['ratio_p95']};"
        f" found in top 10: {result['found_in_top10']}"
    )
    return result


def explain(text: str = "Hack Kampmans Plads 2") -> str:
    """EXPLAIN ANALYZE of the search for a typo'd address without a postcode, run as the
    console runs it (the planner setting in the same query string): the GIN trigram index."""
    from django.db import connection

    from amk.selectors.addresses import (
        _ADDRESSES_SQL,
        PLANNER_SETTING_SQL,
        address_query_parse,
        address_search_params,
    )

    params = address_search_params(address_query_parse(text), 10)
    with connection.cursor() as cursor:
        cursor.execute(PLANNER_SETTING_SQL + "EXPLAIN (ANALYZE, BUFFERS) " + _ADDRESSES_SQL, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def run(note: str = "") -> dict:
    """Prepare, measure, explain: the section's figures."""
    result = {"register": prepare()}
    result.update(measure())
    result["explain"] = explain()
    result["uses_trigram_index"] = "address_street_trgm" in result["explain"]
    result["note"] = note
    return result


def docs_merge(result: dict) -> None:
    """The address figures into docs/benchmarks.json and .md; other sections untouched."""
    path = DOCS / "benchmarks.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    data["address_search_p95_ms"] = result["search"]["p95_ms"]
    data["address_baseline_p95_ms"] = result["baseline"]["p95_ms"]
    data["address_search_ratio_p95"] = result["ratio_p95"]
    data.setdefault("targets_met", {})[TARGET] = result["search"]["p95_ms"] <= TARGET_P95_MS
    data.setdefault("details", {})["address"] = {k: v for k, v in result.items() if k != "explain"}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    md_path = DOCS / "benchmarks.md"
    md = md_path.read_text() if md_path.is_file() else "# Benchmarks\n"
    section = _markdown(result)
    if MD_START in md and MD_END in md:
        before, rest = md.split(MD_START, 1)
        md = before + section + rest.split(MD_END, 1)[1]
    else:
        md = md.rstrip("\n") + "\n\n" + section + "\n"
    md_path.write_text(md)


def _markdown(r: dict) -> str:
    s, b, reg = r["search"], r["baseline"], r["register"]
    made = (
        f"generated in SQL in {reg['generated_s']} s"
        if reg["generated_s"] is not None
        else "generated in SQL by an earlier run"
    )
    found = ", ".join(f"{k} {v:.0%}" for k, v in r["found_in_top10"].items())
    met = "yes" if s["p95_ms"] <= TARGET_P95_MS else "**no**"
    return f"""{MD_START}
## Address search

`amk.selectors.addresses.address_search_local` (what the console's search box calls, without
the gazetteer's places) over **{reg["addresses"]:,} access addresses** ({reg["streets"]:,}
streets; synthetic, {made} by
`synthetic_addresses_generate`), {s["n"]:,} queries made from addresses drawn from the register
and typed six ways (in full; one-letter typo with the postcode; ø/æ/å typed o/a/a with the
town; a street prefix still being typed; town instead of postcode; oe/ae/aa with the
postcode), timed in Python around the call. A prefix alone matches the street in many towns,
so "found" counts the street name among the 10 for it.
Baseline, alternating with it: the plain indexed lookup of the same address by street,
postcode and house number. Run alone with `./scripts/bench.sh --only address`.
{r.get("note") or ""}

| | p50 | p95 | p99 | max |
| --- | ---: | ---: | ---: | ---: |
| address search | {s["p50_ms"]} ms | **{s["p95_ms"]} ms** | {s["p99_ms"]} ms | {s["max_ms"]} ms |
| exact indexed lookup | {b["p50_ms"]} ms | {b["p95_ms"]} ms | {b["p99_ms"]} ms | {b["max_ms"]} ms |

Ratio p95: {r["ratio_p95"]}×. Target p95 ≤ {TARGET_P95_MS:g} ms met: {met}. The address meant
was among the 10 results: {found}. The trigram index is used: {r["uses_trigram_index"]}.

<details><summary>EXPLAIN (ANALYZE, BUFFERS) of a typo'd address ("Hack Kampmans Plads 2")</summary>

```
{r["explain"]}
```
</details>
{MD_END}"""

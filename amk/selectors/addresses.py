"""The dispatcher's address search: access addresses and streets from the local register (or a
DAWA-compatible service), together with the gazetteer's places and postcodes.

Typed text is normalised (lower case, æ → ae, ø → oe, å → aa, accents dropped) on both sides,
so "Århus" and "Aarhus", "Søndergade" and "Soendergade" are the same word; "Sondergade" (ø
typed as o) and typos are caught by trigram similarity (pg_trgm word_similarity). The trigram
search runs over the streets (one row per street and postcode, AddressStreet), and the house
number is then an indexed lookup among the addresses of the streets found.
"""

import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import connection

from amk.models.addresses import AccessAddress, AddressStreet, address_label
from amk.models.territory import Municipality
from amk.selectors import territory
from amk.selectors.addresses_dawa import DawaUnavailable, dawa_autocomplete

_FOLD = str.maketrans(
    {
        "æ": "ae",
        "ä": "ae",
        "ø": "oe",
        "ö": "oe",
        "å": "aa",
        "é": "e",
        "è": "e",
        "ê": "e",
        "ë": "e",
        "ü": "u",
        "á": "a",
        "à": "a",
        "í": "i",
        "ó": "o",
        "ú": "u",
    }
)
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_HOUSE_NUMBER = re.compile(r"^\d{1,3}[a-z]?$")
_POSTCODE = re.compile(r"^\d{4}$")


def address_normalise(text: str) -> str:
    """Mirrors the SQL function amk_address_normalise (amk migration 0006)."""
    folded = text.lower().translate(_FOLD)
    return " ".join(_NOT_WORD.sub(" ", folded).split())


@dataclass(frozen=True)
class AddressQuery:
    """Typed text split the way addresses are written: words, a house number, a postcode."""

    words: str
    house_number: str | None
    postcode: str | None


def address_query_parse(text: str) -> AddressQuery:
    """ "Hack Kampmanns Plads 2, 8000 Aarhus C" → words "hack kampmanns plads aarhus c",
    number "2", postcode "8000". "12 B" is read as 12B; the first number is the house number."""
    tokens = address_normalise(text).split()
    words: list[str] = []
    house_number = postcode = None
    for index, token in enumerate(tokens):
        if postcode is None and _POSTCODE.match(token):
            postcode = token
        elif house_number is None and _HOUSE_NUMBER.match(token) and words:
            house_number = token
        elif (
            house_number is not None
            and house_number.isdigit()
            and len(token) == 1
            and token.isalpha()
            and tokens[index - 1] == house_number
        ):
            house_number += token  # "12 b"
        else:
            words.append(token)
    # DAR writes the letter of a house number in upper case: "12B".
    return AddressQuery(" ".join(words), house_number and house_number.upper(), postcode)


@dataclass(frozen=True)
class LocationMatch:
    """One hit of the console's search: an address, a street, a place or a postcode."""

    kind: str  # "address", "street", "place" or "postcode"
    label: str
    point: Point
    municipality: str
    in_service_region: bool
    address: str = ""  # for an address: the text for the incident's address field
    synthetic: bool = False


_MUNICIPALITIES = Municipality._meta.db_table

# Streets whose normalised text holds the typed words (pg_trgm word similarity over the GIN
# index, threshold pg_trgm.word_similarity_threshold, 0.6 by default), best first.
_STREETS_SQL = f"""
    SELECT s.street_name, s.postcode, s.postcode_name, s.municipality_code,
           ST_X(s.point::geometry) AS lon, ST_Y(s.point::geometry) AS lat, s.synthetic,
           word_similarity(%(words)s, s.search_text) AS score, s.address_count
    FROM {AddressStreet._meta.db_table} s
    WHERE %(words)s <%% s.search_text AND (%(postcode)s::text IS NULL OR s.postcode = %(postcode)s)
    ORDER BY score DESC, s.address_count DESC, s.street_name, s.postcode
    LIMIT %(streets)s
"""  # noqa: S608  identifiers are constants; values are parameters

# The streets found, with their municipality's name and region (one round trip).
_STREET_ROWS_SQL = f"""
    WITH streets AS ({_STREETS_SQL})
    SELECT st.street_name, '', '', st.postcode, st.postcode_name, m.name, m.region_id,
           st.lon, st.lat, st.synthetic
    FROM streets st LEFT JOIN {_MUNICIPALITIES} m ON m.code = st.municipality_code
    ORDER BY st.score DESC, st.address_count DESC, st.street_name, st.postcode
"""  # noqa: S608  identifiers are constants; values are parameters

# The addresses with the typed house number (or one starting with it) on the streets found; a
# street found without that number is a row of its own (the dispatcher picks the street and
# types the number), so a better-matching street is never hidden behind another town's address.
_ADDRESSES_SQL = f"""
    WITH streets AS ({_STREETS_SQL})
    SELECT st.street_name, COALESCE(a.house_number, ''), COALESCE(a.supplementary_town, ''),
           st.postcode, st.postcode_name, m.name, m.region_id,
           COALESCE(ST_X(a.point::geometry), st.lon), COALESCE(ST_Y(a.point::geometry), st.lat),
           COALESCE(a.synthetic, st.synthetic)
    FROM streets st
    LEFT JOIN LATERAL (
        SELECT * FROM {AccessAddress._meta.db_table} a
        WHERE a.street_name = st.street_name AND a.postcode = st.postcode
          AND a.house_number LIKE %(number_prefix)s
        ORDER BY a.house_number = %(number)s DESC, length(a.house_number), a.house_number
        LIMIT %(limit)s
    ) a ON TRUE
    LEFT JOIN {_MUNICIPALITIES} m ON m.code = COALESCE(a.municipality_code, st.municipality_code)
    ORDER BY st.score DESC, a.house_number = %(number)s DESC NULLS LAST,
             length(a.house_number) NULLS LAST, a.house_number, st.street_name, st.postcode
    LIMIT %(limit)s
"""  # noqa: S608  identifiers are constants; values are parameters


def _municipalities(codes: set[str]) -> dict[str, tuple[str, bool]]:
    """Name and whether in the service region, per municipality code (one query)."""
    if not codes:
        return {}
    rows = (
        Municipality.objects.filter(code__in=codes)
        .defer("area")
        .values_list("code", "name", "region_id")
    )
    return {code: (name, region == settings.SERVICE_REGION_CODE) for code, name, region in rows}


def address_search_params(parsed: AddressQuery, limit: int) -> dict:
    return {
        "words": parsed.words,
        "postcode": parsed.postcode,
        "streets": limit,
        "limit": limit,
        "number": parsed.house_number or "",
        "number_prefix": (parsed.house_number or "").replace("%", "") + "%",
    }


# word_similarity costs far more per row than the planner assumes: left to itself it scans
# every street (100 ms at 8,500 streets on a busy machine) instead of the GIN trigram index or
# the postcode index (under 1 ms). Sent in the same query string as the search (one round
# trip): PostgreSQL runs a multi-statement string as one implicit transaction, which SET LOCAL
# lasts for (or to the end of the caller's transaction, where there is one).
PLANNER_SETTING_SQL = "SET LOCAL enable_seqscan = off;"


def address_search_local(*, query: str, limit: int = 10) -> list[LocationMatch]:
    """Addresses (when a house number is typed) or streets from the local register."""
    parsed = address_query_parse(query)
    if not parsed.words:
        return []
    params = address_search_params(parsed, limit)
    with connection.cursor() as cursor:
        sql = _ADDRESSES_SQL if parsed.house_number else _STREET_ROWS_SQL
        cursor.execute(PLANNER_SETTING_SQL + sql, params)
        rows = cursor.fetchall()
    matches = []
    for street, number, town, postcode, name, municipality, region, x, y, synthetic in rows:
        label = address_label(street, number, town, postcode, name)
        matches.append(
            LocationMatch(
                kind="address" if number else "street",
                label=label,
                point=Point(x, y, srid=4326),
                municipality=municipality or "",
                in_service_region=region == settings.SERVICE_REGION_CODE,
                address=label if number else "",
                synthetic=synthetic,
            )
        )
    return matches


@dataclass(frozen=True)
class LocationSearch:
    matches: list[LocationMatch]
    # The HTTP backend did not answer; the addresses came from the local register.
    addresses_fallback: bool = False


def _address_search(query: str, limit: int) -> tuple[list[LocationMatch], bool]:
    if settings.ADDRESS_SEARCH_BACKEND == "dawa":
        try:
            found = dawa_autocomplete(query=query, limit=limit)
        except DawaUnavailable:
            return address_search_local(query=query, limit=limit), True
        municipalities = _municipalities(
            {a.municipality_code for a in found if a.municipality_code}
        )
        matches = []
        for address in found:
            point = Point(address.lon, address.lat, srid=4326)
            if address.municipality_code in municipalities:
                municipality, in_region = municipalities[address.municipality_code]
            else:
                found_in = territory.municipality_containing(point=point, service_region_only=False)
                municipality = found_in.name if found_in else ""
                in_region = bool(found_in and found_in.region_id == settings.SERVICE_REGION_CODE)
            matches.append(
                LocationMatch(
                    kind="address",
                    label=address.label,
                    point=point,
                    municipality=municipality,
                    in_service_region=in_region,
                    address=address.label,
                )
            )
        return matches, False
    return address_search_local(query=query, limit=limit), False


def location_search(*, query: str, limit: int = 10) -> LocationSearch:
    """Addresses, streets, places and postcodes for the console's search box, as one list.

    With a house number typed, addresses come first; otherwise the gazetteer's places and
    postcodes (towns, landmarks) lead and streets follow. Each kind is capped so the other
    still shows.
    """
    query = " ".join(query.split())
    if not query:
        return LocationSearch([])
    places = [
        LocationMatch(
            kind=m.kind,
            label=m.label,
            point=m.point,
            municipality=m.municipality,
            in_service_region=m.in_service_region,
        )
        for m in territory.place_search(query=query, limit=limit)
    ]
    addresses, fallback = _address_search(query, limit)
    if address_query_parse(query).house_number:
        first, second = addresses, places
    else:
        first, second = places, addresses
    keep = max(limit - min(len(second), limit // 3), limit // 2)
    matches = first[:keep]
    matches += second[: limit - len(matches)]
    return LocationSearch(matches, addresses_fallback=fallback)

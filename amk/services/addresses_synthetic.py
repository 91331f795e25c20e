"""Synthetic access addresses for the demo and the benchmark, generated in SQL.

Every row is marked ``synthetic``: real postcodes of the service region, made-up streets (common
Danish street names, each postcode its own set), numbers 1, 2, 3 … walking away from a random
point inside the postcode. They let the address search be tried offline and measured at the
size of a real register; they are not addresses anyone lives at.
"""

import itertools

from django.conf import settings
from django.db import connection, transaction

from amk.models.addresses import AccessAddress
from amk.models.territory import Municipality, Postcode
from amk.services.addresses import address_streets_refresh

# First in every postcode (with 18 or more streets each): the acceptance's Søndergade.
_CLASSICS = [
    "Søndergade",
    "Nørregade",
    "Vestergade",
    "Østergade",
    "Storegade",
    "Jernbanegade",
    "Stationsvej",
    "Bredgade",
    "Torvegade",
    "Havnegade",
    "Strandvej",
    "Åboulevarden",
    "Algade",
    "Grønnegade",
    "Præstevænget",
    "Vestre Ringvej",
    "Østre Allé",
    "Ved Kæret",
]
_STEMS = [
    "Skole", "Kirke", "Mølle", "Birke", "Bøge", "Ege", "Lærke", "Rose", "Linde", "Skov",
    "Eng", "Mark", "Bakke", "Sø", "Fjord", "Kær", "Mose", "Vibe", "Svane", "Hjorte",
    "Tjørne", "Hylde", "Poppel", "Pile", "Ahorn", "Aspe", "Gran", "Fyrre", "Ene", "Hassel",
    "Hvede", "Byg", "Rug", "Havre", "Kløver", "Valmue", "Syren", "Hybe", "Rønne", "Æble",
]  # fmt: skip
_ENDINGS = ["vej", "gade", "stien", "vænget", "bakken", "parken", "toften", "høj"]
STREET_NAMES = _CLASSICS + [stem + ending for ending, stem in itertools.product(_ENDINGS, _STEMS)]

_TABLE = AccessAddress._meta.db_table
_POSTCODES = Postcode._meta.db_table
_MUNICIPALITIES = Municipality._meta.db_table

# The streets: per postcode of the region, `streets` names: the classics first (Søndergade in
# every postcode), then the stem-and-ending names rotated per postcode;
# each with an anchor drawn inside the postcode (seeded: the same every run).
_STREETS_SQL = f"""
    CREATE TEMP TABLE synthetic_street ON COMMIT DROP AS
    WITH postcode AS (
        SELECT p.number, p.name, p.area, row_number() OVER (ORDER BY p.number) AS i,
               (SELECT m.code FROM {_MUNICIPALITIES} m
                WHERE ST_Intersects(m.area, ST_PointOnSurface(p.area)) LIMIT 1) AS municipality
        FROM {_POSTCODES} p
    )
    SELECT pc.number AS postcode, pc.name AS postcode_name, pc.municipality,
           (%(names)s::text[])[CASE WHEN anchor.path[1] <= %(classics)s THEN anchor.path[1]
               ELSE %(classics)s + 1
                    + (anchor.path[1] - 1 + pc.i * 7) %% (%(name_count)s - %(classics)s)
               END] AS street,
           anchor.path[1] AS street_index, anchor.geom AS anchor
    FROM postcode pc
    JOIN {_MUNICIPALITIES} m ON m.code = pc.municipality AND m.region_id = %(region)s
    CROSS JOIN LATERAL ST_Dump(ST_GeneratePoints(pc.area, %(streets)s, %(seed)s::int + pc.i::int))
         AS anchor
"""  # noqa: S608  identifiers are constants; values are parameters

# The addresses: house numbers 1…n along each street, 12 m apart on a bearing of its own.
_ADDRESSES_SQL = f"""
    INSERT INTO {_TABLE} (id, status, municipality_code, street_code, street_name, house_number,
                          supplementary_town, postcode, postcode_name, point, synthetic,
                          updated_at)
    SELECT md5('synthetic:' || s.postcode || ':' || s.street || ':' || n)::uuid, 1,
           coalesce(s.municipality, ''), lpad(s.street_index::text, 4, '0'), s.street,
           n::text || CASE WHEN n %% 37 = 0 THEN 'A' ELSE '' END, '', s.postcode,
           s.postcode_name,
           ST_Project(s.anchor::geography, 12.0 * n,
                      radians((hashtext(s.postcode || s.street) %% 360 + 360) %% 360)),
           true, now()
    FROM synthetic_street s
    CROSS JOIN generate_series(1, %(numbers)s) AS n
    ORDER BY s.postcode, s.street_index, n
    LIMIT %(count)s
    ON CONFLICT (id) DO NOTHING
"""  # noqa: S608  identifiers are constants; values are parameters


@transaction.atomic
def synthetic_addresses_generate(
    *, count: int, streets_per_postcode: int = 60, seed: int = 7
) -> int:
    """Replace the synthetic addresses with ``count`` new ones; returns how many were made."""
    if count < 0:
        raise ValueError("count must not be negative")
    streets_per_postcode = min(streets_per_postcode, len(STREET_NAMES))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {_TABLE} WHERE NOT synthetic)")  # noqa: S608
        if cursor.fetchone()[0]:
            cursor.execute(f"DELETE FROM {_TABLE} WHERE synthetic")  # noqa: S608
        else:
            cursor.execute(f"TRUNCATE {_TABLE}")
        if count == 0:
            address_streets_refresh()
            return 0
        cursor.execute("DROP TABLE IF EXISTS synthetic_street")  # a caller's outer transaction
        cursor.execute(
            _STREETS_SQL,
            {
                "names": STREET_NAMES,
                "name_count": len(STREET_NAMES),
                "classics": len(_CLASSICS),
                "region": settings.SERVICE_REGION_CODE,
                "streets": streets_per_postcode,
                "seed": seed,
            },
        )
        cursor.execute("SELECT count(*) FROM synthetic_street")
        streets = cursor.fetchone()[0]
        if not streets:
            raise ValueError("No postcodes in the service region: run load_geography first.")
        numbers = -(-count // streets)
        cursor.execute(_ADDRESSES_SQL, {"numbers": numbers, "count": count})
        made = cursor.rowcount
    address_streets_refresh()
    return made

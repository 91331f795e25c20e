"""A fake DAWA-compatible address service: ``GET /autocomplete`` as DAWA answered it.

It holds a few access addresses in DAWA's "mini" form and answers
``/autocomplete?q=…&type=adgangsadresse`` with suggestions ``{"type": "adgangsadresse",
"tekst", "forslagstekst", "caretpos", "data": {…}}`` whose text contains every typed word
(case-insensitive), as the real service did for well-spelled input. Faults (errors, delays,
down) come from FakeProvider.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from tests.fakes.server import FakeProvider, FakeRequest, FakeResponse, Recorder

ADDRESSES = [
    {
        "id": "0a3f50a0-0000-32b8-e044-0003ba298018",
        "status": 1,
        "darstatus": 3,
        "vejkode": "0600",
        "vejnavn": "Hack Kampmanns Plads",
        "adresseringsvejnavn": "Hack Kampmanns Plads",
        "husnr": "2",
        "supplerendebynavn": None,
        "postnr": "8000",
        "postnrnavn": "Aarhus C",
        "stormodtagerpostnr": None,
        "stormodtagerpostnrnavn": None,
        "kommunekode": "0751",
        "x": 10.2138,
        "y": 56.1535,
    },
    {
        "id": "0a3f50a0-0001-32b8-e044-0003ba298018",
        "status": 1,
        "darstatus": 3,
        "vejkode": "1234",
        "vejnavn": "Kongensgade",
        "adresseringsvejnavn": "Kongensgade",
        "husnr": "9",
        "supplerendebynavn": None,
        "postnr": "5000",
        "postnrnavn": "Odense C",
        "stormodtagerpostnr": None,
        "stormodtagerpostnrnavn": None,
        "kommunekode": "0461",
        "x": 10.3846,
        "y": 55.3960,
    },
]


def _text(address: dict) -> str:
    return f"{address['vejnavn']} {address['husnr']}, {address['postnr']} {address['postnrnavn']}"


class FakeDawa(FakeProvider):
    def __init__(self, *, seed: int = 0) -> None:
        super().__init__(seed=seed)
        self.queries: Recorder[dict[str, list[str]]] = Recorder()

    def reset(self) -> None:
        super().reset()
        self.queries.clear()

    def handle(self, request: FakeRequest) -> FakeResponse | None:
        if request.method != "GET" or request.path != "/autocomplete":
            return None
        params = parse_qs(request.query, keep_blank_values=True)
        self.queries.append(params)
        if not self.delay():
            return FakeResponse.json(503, {"type": "InternalError", "title": "reset"})
        if self.should_fail(params.get("q", [""])[0]):
            return FakeResponse.json(
                self.faults.error_status, {"type": "InternalError", "title": "Fake failure"}
            )
        if "q" not in params:
            return FakeResponse.json(
                400, {"type": "QueryParameterFormatError", "title": "q mangler", "details": []}
            )
        words = params["q"][0].lower().replace(",", " ").split()
        limit = int(params.get("per_side", ["20"])[0])
        found = []
        for address in ADDRESSES:
            text = _text(address)
            if all(word in text.lower() for word in words):
                found.append(
                    {
                        "type": "adgangsadresse",
                        "tekst": text,
                        "forslagstekst": text,
                        "caretpos": len(text),
                        "data": {**address, "href": f"/adgangsadresser/{address['id']}"},
                    }
                )
        return FakeResponse.json(200, found[:limit])

"""Personal and secret values masked in the admin: a staff member who may view a volunteer or an
AED sees a volunteer's phone number, live position and push tokens, and an AED's cabinet code and
its contacts' numbers, in full only with the permission for each (volunteers.view_phone_number,
view_live_position, view_push_token; defibrillators.view_cabinet_code, view_contact_phone).
Superusers hold every permission.

A ModelAdmin or inline lists the masked fields in ``masked_fields``; without the permission the
field is replaced, wherever the admin would show it (list columns, change and view forms), by a
read-only masked value, and left out of the search (a search by value would reveal it by trial).
"""

import re
from collections.abc import Callable
from typing import Any

import phonenumbers
from django.utils.translation import gettext_lazy as _

HIDDEN = "••"


def mask_phone(value: Any) -> str:
    """'+4520123478' -> '+45 •• •• •• 78': the country and the last two digits, enough to tell
    two people apart on the telephone, never enough to call them."""
    text = str(value or "")
    if not text:
        return "–"
    try:
        number = phonenumbers.parse(text, None)
        country = f"+{number.country_code}"
        national = str(number.national_number)
    except phonenumbers.NumberParseException:
        country, national = "", text.lstrip("+")
    groups = max(1, (len(national) - 2) // 2)
    return " ".join([country, *[HIDDEN] * groups, national[-2:]]).strip()


E164_IN_TEXT = re.compile(r"\+[1-9]\d{6,14}")


def mask_phones_in(value: Any) -> str:
    """A provider's error names the number it refused ("Invalid 'To' Phone Number: +45…")."""
    return E164_IN_TEXT.sub(lambda match: mask_phone(match.group()), str(value or ""))


def mask_token(value: Any) -> str:
    """A push token's first 6 characters: enough to match it with a provider's log line."""
    text = str(value or "")
    return f"{text[:6]}…" if text else "–"


def mask_code(value: Any) -> str:
    return "••••" if value else "–"


def mask_hidden(value: Any) -> str:
    """A position, or anything else shown whole or not at all."""
    return str(_("hidden")) if value else "–"


mask_position = mask_hidden


def mask_recipient(value: Any) -> str:
    """An SMS goes to a phone number (E.164), a push to a token."""
    text = str(value or "")
    return mask_phone(text) if text.startswith("+") and text[1:].isdigit() else mask_token(text)


def masked_name(field: str) -> str:
    return f"{field.replace('__', '_')}_masked"


def _follow(obj: Any, path: str) -> Any:
    for part in path.split("__"):
        obj = getattr(obj, part, None)
    return obj


class MaskedFieldsMixin:
    """For a ModelAdmin or an InlineModelAdmin: ``masked_fields`` maps a field (or a path to one,
    ``volunteer__phone``) to the permission (or permissions, all needed) that shows it and the
    mask shown otherwise."""

    masked_fields: dict[str, tuple[str | tuple[str, ...], Callable[[Any], str]]] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field, (_permission, mask) in self.masked_fields.items():
            setattr(self, masked_name(field), self._masked_display(field, mask))

    def _masked_display(self, field: str, mask: Callable[[Any], str]):
        meta = self.model._meta  # type: ignore[attr-defined]
        label = field.replace("_", " ")
        for part in field.split("__"):
            try:
                found = meta.get_field(part)
            except Exception:  # an attribute, not a field
                break
            label = found.verbose_name
            if found.related_model is not None:
                meta = found.related_model._meta

        def display(obj):
            return mask(_follow(obj, field))

        display.short_description = label  # type: ignore[attr-defined]
        return display

    def hidden_fields(self, request) -> set[str]:
        """The masked fields this request's user may not see in full."""
        user = request.user
        return {
            field
            for field, (permission, _mask) in self.masked_fields.items()
            if not user.has_perms([permission] if isinstance(permission, str) else permission)
        }

    def _swap(self, names, hidden: set[str]) -> list:
        swapped = [masked_name(n) if isinstance(n, str) and n in hidden else n for n in names]
        return list(dict.fromkeys(swapped))  # a masked field also listed as read-only: once

    def get_list_display(self, request):
        return self._swap(super().get_list_display(request), self.hidden_fields(request))

    def get_list_display_links(self, request, list_display):
        links = super().get_list_display_links(request, list_display)
        if links is None:
            return links
        return self._swap(links, self.hidden_fields(request))

    def _hidden_on_form(self, request, obj) -> set[str]:
        # An add form has no value to hide: the field stays an input (a required one must).
        return self.hidden_fields(request) if obj is not None else set()

    def get_fields(self, request, obj=None):
        return self._swap(super().get_fields(request, obj), self._hidden_on_form(request, obj))

    def get_fieldsets(self, request, obj=None):
        hidden = self._hidden_on_form(request, obj)
        fieldsets = []
        for name, options in super().get_fieldsets(request, obj):
            swapped = [
                self._swap(f, hidden) if isinstance(f, list | tuple) else self._swap([f], hidden)[0]
                for f in options.get("fields", [])
            ]
            fieldsets.append((name, {**options, "fields": swapped}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        hidden = self._hidden_on_form(request, obj)
        readonly = [f for f in super().get_readonly_fields(request, obj) if f not in hidden]
        return [*readonly, *(masked_name(f) for f in sorted(hidden))]

    def get_search_fields(self, request):
        hidden = self.hidden_fields(request)

        def reveals(term: str) -> bool:
            path = term.lstrip("=^@")
            return any(path == f or path.endswith(f"__{f}") for f in hidden)

        return [term for term in super().get_search_fields(request) if not reveals(term)]

    def get_search_results(self, request, queryset, search_term):
        # With every search field masked, Django would return the whole list for any term;
        # a list that looks filtered by a hidden value must not.
        masked_all = super().get_search_fields(request) and not self.get_search_fields(request)
        if search_term.strip() and masked_all:
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

"""The language of every page: Danish (settings.LANGUAGE_CODE) whatever the browser asks for;
another language only as the user's explicit choice, remembered in Django's language cookie
(set by the console's language switch through ``django.views.i18n.set_language``).

Replaces Django's LocaleMiddleware, which would follow the browser's Accept-Language: a
dispatch centre's console must not change language with the PC it runs on.
"""

from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_vary_headers


class ChosenLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",))
        response.headers.setdefault("Content-Language", language)
        return response

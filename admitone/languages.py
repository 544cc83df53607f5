"""The languages Admit One speaks, and how one is chosen from what a client sends.

Neutral ground below the domains and the web front: the pages (``web/i18n.py``), the
mails and PDFs (``notifications``) and the API's orders choose a language with these
functions, so no domain imports ``admitone.web`` for it.
"""

from __future__ import annotations

DEFAULT = "en"
SUPPORTED = ("en", "fr")


def parse_accept_language(header: str) -> str | None:
    """The best supported language of an ``Accept-Language`` header, by q-value."""
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower()
        quality = 1.0
        for param in pieces[1:]:
            name, _sep, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if not tag or quality <= 0:
            continue
        primary = tag.split("-")[0]
        if primary in SUPPORTED:
            choices.append((-quality, index, primary))
    return min(choices)[2] if choices else None


def supported_language(locale: str | None) -> str:
    """``locale`` reduced to a supported language ("fr-FR" -> "fr"), else the default."""
    code = (locale or DEFAULT).split("-")[0].split("_")[0].lower()
    return code if code in SUPPORTED else DEFAULT


def buyer_language(*, accept_language: str | None, account_locale: str | None) -> str:
    """The language an order made through the API is recorded in: the request's
    ``Accept-Language`` (its preferred supported language), else the account's, else
    English. The web checkout records the page's language instead."""
    chosen = parse_accept_language(accept_language) if accept_language else None
    return chosen or supported_language(account_locale)

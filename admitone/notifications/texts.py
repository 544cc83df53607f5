"""Labels printed on the PDFs, per language (the e-mail bodies are templates)."""

from __future__ import annotations

from admitone.web.i18n import parse_accept_language

SUPPORTED = ("en", "fr")

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "holder": "Holder",
        "ticket_type": "Ticket",
        "order": "Order",
        "scan": "Show this code at the entrance. One scan admits one person.",
        "ticket": "Ticket",
        "receipt": "Receipt",
        "paid_at": "Paid",
        "buyer": "Buyer",
        "item": "Item",
        "quantity": "Qty",
        "unit_price": "Unit price",
        "vat_rate": "VAT",
        "amount": "Amount",
        "vat": "VAT",
        "net": "net",
        "total_vat": "Total VAT",
        "total": "Total",
        "refunded": "Refunded",
        "inclusive": "Prices include VAT.",
    },
    "fr": {
        "holder": "Titulaire",
        "ticket_type": "Billet",
        "order": "Commande",
        "scan": "Présentez ce code à l'entrée. Un scan fait entrer une personne.",
        "ticket": "Billet",
        "receipt": "Reçu",
        "paid_at": "Payé le",
        "buyer": "Acheteur",
        "item": "Article",
        "quantity": "Qté",
        "unit_price": "Prix unitaire",
        "vat_rate": "TVA",
        "amount": "Montant",
        "vat": "TVA",
        "net": "HT",
        "total_vat": "Total TVA",
        "total": "Total TTC",
        "refunded": "Remboursé",
        "inclusive": "Prix toutes taxes comprises.",
    },
}


def language(locale: str | None) -> str:
    code = (locale or "en").split("-")[0].split("_")[0].lower()
    return code if code in SUPPORTED else "en"


def buyer_language(*, accept_language: str | None, account_locale: str | None) -> str:
    """The language an order made through the API is recorded in: the request's
    ``Accept-Language`` (its preferred supported language), else the account's, else
    English. The web checkout records the page's language instead."""
    chosen = parse_accept_language(accept_language) if accept_language else None
    return chosen or language(account_locale)

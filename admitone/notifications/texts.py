"""Labels printed on the PDFs, per language (the e-mail bodies are templates).

The language itself is chosen by ``admitone.languages``.
"""

from __future__ import annotations

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

"""Order codes: eight letters of an alphabet without look-alikes, evenly drawn."""

from __future__ import annotations

from collections import Counter

from admitone.orders.buying import ORDER_CODE_ALPHABET, ORDER_CODE_LENGTH, _new_code


def test_codes_use_the_unambiguous_alphabet_evenly():
    assert len(ORDER_CODE_ALPHABET) == 32  # a random byte maps onto it without bias
    assert not set("01IO") & set(ORDER_CODE_ALPHABET)
    codes = [_new_code() for _ in range(4000)]
    assert all(len(code) == ORDER_CODE_LENGTH for code in codes)
    assert len(set(codes)) == len(codes)
    letters = Counter("".join(codes))
    assert set(letters) == set(ORDER_CODE_ALPHABET)
    # 32 000 letters: about 1000 of each; a biased draw would skew some far off.
    assert all(800 < count < 1200 for count in letters.values())

from __future__ import annotations

import pytest

from ledger.errors import InputError
from ledger.hall.catalogue import load_catalogue


def test_twenty_items_with_bytes16_codes() -> None:
    cat = load_catalogue()
    assert len(cat.items) == 20
    for item in cat.items:
        assert len(item.code.encode("ascii")) <= 16
        assert item.materials and item.time_limit_working_days >= 1 and item.legal_basis
        assert item.name_zh and item.name_en and item.home_rule.name_zh


def test_quanzhou_districts_without_kinmen() -> None:
    codes = {d.code for d in load_catalogue().districts}
    assert codes == {350502, 350503, 350504, 350505, 350521, 350524, 350525, 350526, 350581, 350582, 350583}
    assert 350527 not in codes


def test_unknown_item_and_district_name_the_field() -> None:
    cat = load_catalogue()
    with pytest.raises(InputError) as e:
        cat.item("NOPE")
    assert e.value.field == "item_code"
    with pytest.raises(InputError) as e2:
        cat.district(350527)
    assert e2.value.field == "home_district"
    with pytest.raises(InputError):
        cat.district("abc")
    assert cat.district("350503").name_zh == "丰泽区"

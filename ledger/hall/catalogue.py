"""The service-item catalogue (事项目录) and the city's county-level districts, as package data.

    >>> cat = load_catalogue()
    >>> item = cat.item("BDC-TRANSFER")          # raises InputError(field="item_code") when unknown
    >>> cat.district(350503).name_zh
    '丰泽区'

The data lives in ``ledger/hall/data/catalogue.json`` (package data): 20 high-frequency
cross-region items of the Quanzhou "泉城通办" kind, each with its legal basis, which district is "home" for it, required
materials, statutory time limit in working days and record retention period.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ledger.errors import InputError

__all__ = ["AUTHORISATION_LETTER", "Catalogue", "District", "HomeRule", "Material", "ServiceItem", "load_catalogue"]

#: the material an agent (代理人) brings besides the item's own: required whenever an agent applies
AUTHORISATION_LETTER = "authorisation_letter"


class District(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: int = Field(ge=100000, le=999999, description="GB/T 2260 county-level code")
    name_zh: str
    name_en: str


class HomeRule(BaseModel):
    """Which district is "home" for an item (承办地规则), and what the counter can suggest it from:
    ``property_district`` — the clerk names the district where the property is (不动产所在地);
    ``id_region`` — the address code of the applicant's resident ID (户籍所在地 at the time of issue);
    ``credit_code_region`` — characters 3–8 of the organisation's credit code (登记机关所在地);
    ``None`` — the clerk chooses (参保地, 经常居住地 … are not in any document the counter reads)."""

    model_config = ConfigDict(frozen=True)

    code: str
    name_zh: str
    name_en: str
    suggest: Literal["property_district", "id_region", "credit_code_region"] | None = None


class Material(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    name_zh: str
    name_en: str


class ServiceItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str = Field(
        pattern=r"^[A-Z0-9][A-Z0-9-]{0,15}$", description="at most 16 ASCII characters (bytes16 on chain)"
    )
    name_zh: str
    name_en: str
    legal_basis: str
    home_rule: HomeRule
    materials: tuple[Material, ...]
    time_limit_working_days: int = Field(ge=1)
    retention_years: int = Field(ge=1)

    @property
    def material_codes(self) -> tuple[str, ...]:
        return tuple(m.code for m in self.materials)


class Catalogue(BaseModel):
    model_config = ConfigDict(frozen=True)

    city_code: int
    city_name_zh: str
    city_name_en: str
    districts: tuple[District, ...]
    items: tuple[ServiceItem, ...]

    agent_letter: Material

    @model_validator(mode="after")
    def _unique(self) -> Catalogue:
        codes = [i.code for i in self.items]
        if len(codes) != len(set(codes)):
            raise ValueError("duplicate service item codes")  # pydantic validator: becomes a ValidationError
        return self

    def item(self, code: str, *, field: str = "item_code") -> ServiceItem:
        for i in self.items:
            if i.code == code:
                return i
        raise InputError(field, "unknown_item", code=code)

    def district_of(self, region: int | None) -> District | None:
        """The district of a 6-digit region code (``None`` when it is not one of this city's districts)."""
        return next((d for d in self.districts if d.code == region), None)

    def district(self, code: int | str, *, field: str = "home_district") -> District:
        try:
            n = int(code)
        except (TypeError, ValueError):
            raise InputError(field, "not_a_district_code", code=str(code)) from None
        for d in self.districts:
            if d.code == n:
                return d
        raise InputError(field, "district_not_in_city", code=n, city_zh=self.city_name_zh, city_en=self.city_name_en)


@cache
def load_catalogue() -> Catalogue:
    """The catalogue shipped with the package (parsed once)."""
    raw: dict[str, Any] = json.loads(
        resources.files("ledger.hall").joinpath("data", "catalogue.json").read_text(encoding="utf-8")
    )
    rules = {k: HomeRule(code=k, **v) for k, v in raw["home_rules"].items()}
    mats = {k: Material(code=k, **v) for k, v in raw["materials"].items()}
    items = []
    for it in raw["items"]:
        items.append(
            ServiceItem(
                **{k: v for k, v in it.items() if k not in ("home_rule", "materials")},
                home_rule=rules[it["home_rule"]],
                materials=tuple(mats[m] for m in it["materials"]),
            )
        )
    return Catalogue(
        city_code=raw["city"]["code"],
        city_name_zh=raw["city"]["name_zh"],
        city_name_en=raw["city"]["name_en"],
        districts=tuple(District(**d) for d in raw["districts"]),
        items=tuple(items),
        agent_letter=mats[AUTHORISATION_LETTER],
    )

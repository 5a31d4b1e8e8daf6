from __future__ import annotations

from fastapi import APIRouter

from ledger.hall.catalogue import Catalogue, ServiceItem, load_catalogue

router = APIRouter(prefix="/catalogue", tags=["catalogue"])


@router.get("", operation_id="catalogue", response_model=Catalogue)
def catalogue() -> Catalogue:
    """The service items (事项) and the city's districts."""
    return load_catalogue()


@router.get("/items/{code}", operation_id="catalogue_item", response_model=ServiceItem)
def item(code: str) -> ServiceItem:
    return load_catalogue().item(code, field="code")

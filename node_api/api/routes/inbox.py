from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from node_api.api.deps import BookDep, Staff, require_roles
from node_api.api.routes.cases import CasesPublic

router = APIRouter(prefix="/inbox", tags=["inbox"])


@router.get("", operation_id="inbox", response_model=CasesPublic)
def inbox(book: BookDep, _: Annotated[Staff, Depends(require_roles("officer", "regulator"))]) -> dict[str, Any]:
    """承办: cases of this hall's district, wherever they were accepted."""
    data = book.list_cases(home_district=book.hall.district)
    return {"data": data, "count": len(data)}

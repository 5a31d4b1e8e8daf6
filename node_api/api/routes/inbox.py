"""承办 待办: this hall's cases, searched, filtered, sorted and paginated on the server."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ledger.hall.inbox import InboxPage, InboxQuery
from node_api.api.deps import CaseReader, NodeDep, needs

router = APIRouter(prefix="/inbox", tags=["inbox"])


@router.get("", operation_id="inbox", response_model=InboxPage, dependencies=[needs(CaseReader)])
def inbox(node: NodeDep, q: Annotated[InboxQuery, Query()]) -> InboxPage:
    """Cases of this hall: ``scope`` inbox (this district's, wherever accepted), mine (accepted here) or all;
    search ``q`` in serial, applicant name, ID number and phone; filters ``status``, ``item``, ``due_within``
    (working days), ``action`` (officer | clerk: waiting for that role here); ``sort`` due | age | serial;
    ``page``/``per_page``. Applicants are masked; ``POST /cases/{serial}/reveal`` shows them (logged)."""
    return node.inbox.query(q)

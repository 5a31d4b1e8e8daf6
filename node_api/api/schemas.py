"""Building the API's answers from domain objects.

A router's response schema is apart from the domain model (the FastAPI template's rule): where the answer has
the domain object's fields, the schema subclasses the model (or lists the same fields) and is built from it
here, one way for every router::

    return public(HealthPublic, node.health())
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

__all__ = ["public"]

M = TypeVar("M", bound=BaseModel)


def public(schema: type[M], value: object) -> M:
    """``value`` (a pydantic model or a dataclass with the schema's fields) as the API schema ``schema``."""
    return schema.model_validate(value, from_attributes=True)

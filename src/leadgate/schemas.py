"""Pydantic configuration shared by every API schema: camelCase on the wire, strict about fields."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, model_validator
from pydantic.alias_generators import to_camel


def iso_utc(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(iso_utc, return_type=str)]


class RequestModel(BaseModel):
    """A request body: camelCase names only, unknown fields refused, strings trimmed, and no
    U+0000 anywhere (PostgreSQL cannot store it in text)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        extra="forbid",
        str_strip_whitespace=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        from leadgate.payload import find_nul

        at = find_nul(data)
        if at is not None:
            raise ValueError(f"text may not contain NUL characters (at {at or 'the body'})")
        return data


class ResponseModel(BaseModel):
    """A response body, built from Python names and sent in camelCase."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        serialize_by_alias=True,
        from_attributes=True,
    )

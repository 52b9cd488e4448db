"""Pydantic configuration shared by every API schema: camelCase on the wire, strict about fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer, model_validator
from pydantic.alias_generators import to_camel


def iso_utc(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(iso_utc, return_type=str)]


def _in_utc(value: datetime) -> datetime:
    """A naive time is UTC; an aware one is moved to UTC, which must still be a date Python
    and the columns hold (0001-01-01T00:00:00+14:00 is not: an OverflowError, once a 500)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must fall between years 1 and 9999 once converted to UTC") from None


# A time given by a client, in UTC, bounded to the dates a column can hold.
UtcDateTime = Annotated[datetime, AfterValidator(_in_utc)]


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

"""What a request may carry, held to what the store can keep.

Every body the service accepts (the admin API's and the item tables' and publicity plans' rows)
is a `Body`: unknown fields are refused, and `null` is refused for every field that cannot be
empty. A field with a default may be left out (a PATCH leaves it unchanged); `null` clears it
only where the stored column is nullable (derived from the model named in `stored_as`) or where
`nullable` says null means something ("no score", "every retailer"). Numbers, texts and moments
have shared types bounded by the columns (32-bit integers, the column's length, the day range
the business calendar can count), so a value the database would refuse is a 422 naming the
field, before anything is written.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.json_schema import GetJsonSchemaHandler, JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError
from sqlmodel import SQLModel

INT32_MAX = 2**31 - 1  # PostgreSQL INTEGER, the id columns' type

Id = Annotated[int, Field(ge=1, le=INT32_MAX, description="记录编号")]
Offset = Annotated[int, Field(ge=0, le=INT32_MAX)]
Price = Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2)]  # NUMERIC(10, 2)


def _years(first: int, last: int) -> AfterValidator:
    def check(value: date) -> date:
        if not first <= value.year <= last:
            raise PydanticCustomError("year_range", "年份须在 {first} 到 {last} 之间", {"first": first, "last": last})
        return value

    return AfterValidator(check)


# A business day; the moments around it (a publicity plan's posts, a week either side) stay well
# inside what dates, time zones and the store can count.
Day = Annotated[date, _years(2000, 2099)]
Moment = Annotated[datetime, _years(1970, 2199)]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "不能包含空字符（\\x00）")
    return value


SearchText = Annotated[str, Field(max_length=64), AfterValidator(_no_nul)]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(map(_has_nul, value))
    if isinstance(value, dict):
        return any(map(_has_nul, value.keys())) or any(map(_has_nul, value.values()))
    return False


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stored_as: ClassVar[type[SQLModel] | None] = None
    nullable: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.stored_as is not None and "nullable" not in cls.__dict__:
            columns = cls.stored_as.__table__.columns  # type: ignore[attr-defined]
            cls.nullable = frozenset(column.name for column in columns if column.nullable)

    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise PydanticCustomError("not_nullable", "不能为 null（不修改请不填此项）")
        if _has_nul(value):  # PostgreSQL keeps no NUL in text
            raise PydanticCustomError("nul_character", "不能包含空字符（\\x00）")
        return value

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """Declare what is accepted: `null` only for the nullable fields."""
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        for name, prop in target.get("properties", {}).items():
            if name in cls.nullable or "anyOf" not in prop:
                continue
            kept = [option for option in prop["anyOf"] if option.get("type") != "null"]
            if len(kept) != len(prop["anyOf"]):
                del prop["anyOf"]
                prop.pop("default", None)
                if len(kept) == 1:
                    prop.update(kept[0])
                else:
                    prop["anyOf"] = kept
        return schema

"""Constrained field types shared by the resource schemas."""

from typing import Annotated, Any

import msgspec

Email = Annotated[str, msgspec.Meta(pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$", max_length=254)]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=256)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Description = Annotated[str, msgspec.Meta(max_length=5000)]
Page = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=100)]
Metadata = Annotated[dict[str, Any], msgspec.Meta(max_length=100)]

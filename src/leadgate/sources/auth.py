"""The scopes inbound-source routes need."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from leadgate.auth.dependencies import require
from leadgate.auth.principal import Principal

SourcesRead = Annotated[Principal, Depends(require("sources:read"))]
SourcesWrite = Annotated[Principal, Depends(require("sources:write"))]

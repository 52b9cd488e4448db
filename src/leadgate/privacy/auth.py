"""The scopes privacy routes need."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from leadgate.auth.dependencies import require
from leadgate.auth.principal import Principal

PrivacyRead = Annotated[Principal, Depends(require("privacy:read"))]
PrivacyWrite = Annotated[Principal, Depends(require("privacy:write"))]

"""The scopes usage routes need."""

from typing import Annotated

from fastapi import Depends

from leadgate.auth.dependencies import require
from leadgate.auth.principal import Principal

UsageRead = Annotated[Principal, Depends(require("usage:read"))]

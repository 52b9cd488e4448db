"""The scopes lead routes need."""

from typing import Annotated

from fastapi import Depends

from leadgate.auth.dependencies import require
from leadgate.auth.principal import Principal

LeadsRead = Annotated[Principal, Depends(require("leads:read"))]
LeadsWrite = Annotated[Principal, Depends(require("leads:write"))]

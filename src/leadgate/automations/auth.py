"""The scopes automation routes need (`automations:write` also triggers a rule by hand)."""

from typing import Annotated

from fastapi import Depends

from leadgate.auth.dependencies import require
from leadgate.auth.principal import Principal

AutomationsRead = Annotated[Principal, Depends(require("automations:read"))]
AutomationsWrite = Annotated[Principal, Depends(require("automations:write"))]

"""The scopes activity and timeline routes need."""

from typing import Annotated

from fastapi import Depends

from leadgate.auth.dependencies import require
from leadgate.auth.principal import Principal

ActivitiesRead = Annotated[Principal, Depends(require("activities:read"))]
ActivitiesWrite = Annotated[Principal, Depends(require("activities:write"))]

"""The scope report routes need."""

from typing import Annotated

from fastapi import Depends

from leadgate.auth.dependencies import require
from leadgate.auth.principal import Principal

ReportsRead = Annotated[Principal, Depends(require("reports:read"))]

"""The scopes form routes need."""

from typing import Annotated

from fastapi import Depends

from leadgate.auth.dependencies import require
from leadgate.auth.principal import Principal

FormsRead = Annotated[Principal, Depends(require("forms:read"))]
FormsWrite = Annotated[Principal, Depends(require("forms:write"))]

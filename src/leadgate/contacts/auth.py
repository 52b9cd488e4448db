"""The scopes contact routes need."""

from typing import Annotated

from fastapi import Depends

from leadgate.auth.dependencies import require
from leadgate.auth.principal import Principal

ContactsRead = Annotated[Principal, Depends(require("contacts:read"))]
ContactsWrite = Annotated[Principal, Depends(require("contacts:write"))]

"""The scopes key-management routes need."""

from typing import Annotated

from fastapi import Depends

from leadgate.auth.dependencies import authenticated, require
from leadgate.auth.principal import Principal

KeysRead = Annotated[Principal, Depends(require("keys:read"))]
KeysWrite = Annotated[Principal, Depends(require("keys:write"))]
# `GET /api-keys/self` needs no scope: any valid key may learn about itself.
AnyKey = Annotated[Principal, Depends(authenticated)]

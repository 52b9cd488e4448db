"""The scopes user routes need."""

from typing import Annotated

from fastapi import Depends

from leadgate.auth.dependencies import require
from leadgate.auth.principal import Principal

UsersRead = Annotated[Principal, Depends(require("users:read"))]

"""The scopes tag routes need."""

from typing import Annotated

from fastapi import Depends

from leadgate.auth.dependencies import require
from leadgate.auth.principal import Principal

TagsRead = Annotated[Principal, Depends(require("tags:read"))]
TagsWrite = Annotated[Principal, Depends(require("tags:write"))]

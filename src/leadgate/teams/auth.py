"""The scopes team routes need: reading teams is part of reading leads (a lead's `teamId`);
creating, renaming and deleting them administers the workspace, like managing keys."""

from typing import Annotated

from fastapi import Depends

from leadgate.auth.dependencies import require
from leadgate.auth.principal import Principal

TeamsRead = Annotated[Principal, Depends(require("leads:read"))]
TeamsWrite = Annotated[Principal, Depends(require("keys:write"))]

"""The scopes webhook routes need."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from leadgate.auth.dependencies import require
from leadgate.auth.principal import Principal

WebhooksRead = Annotated[Principal, Depends(require("webhooks:read"))]
WebhooksWrite = Annotated[Principal, Depends(require("webhooks:write"))]

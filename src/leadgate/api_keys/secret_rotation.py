"""Server-secret rotation, for API keys: how many live key secrets are hashed under the current
server secret, under each previous one, or under none known (`leadgate secrets status`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.api_keys.repository import KeySecretCensusRepository
from leadgate.models import utcnow
from leadgate.settings import Settings, server_key_id


@dataclass(frozen=True, slots=True)
class SecretRotationStatus:
    """Live API-key secrets by the server secret they are hashed under."""

    current: int
    previous: list[int]  # per entry of `previous_secret_keys`, in order
    unrecorded: int  # hashed before leadgate recorded the server secret
    unknown: int  # under a server secret that is neither current nor listed as previous

    @property
    def not_current(self) -> int:
        return sum(self.previous) + self.unrecorded + self.unknown


async def secret_rotation_status(session: AsyncSession, settings: Settings) -> SecretRotationStatus:
    counts = await KeySecretCensusRepository(session).live_secrets_by_server_key(utcnow())
    current = counts.pop(settings.secret_key_id, 0)
    previous = [counts.pop(server_key_id(old), 0) for old in settings.previous_secret_bytes]
    unrecorded = counts.pop(None, 0)
    return SecretRotationStatus(current, previous, unrecorded, sum(counts.values()))

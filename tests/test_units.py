"""Pure functions: key format, ids, normalisation, settings (no server needed)."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadgate import crypto
from leadgate.ids import new_id
from leadgate.leads.normalize import email_key, name_key, normalize_email, normalize_phone
from leadgate.settings import Settings


def test_key_format() -> None:
    key = crypto.generate_api_key("snap")
    assert re.fullmatch(r"snap_[0-9A-Za-z]{38}", key.plaintext)
    assert key.hint == key.plaintext[:9]
    assert crypto.is_well_formed(key.plaintext, "snap")
    assert not crypto.is_well_formed(key.plaintext, "lg")
    assert re.search(crypto.key_pattern("snap"), f"leaked: {key.plaintext} here")


@given(st.text(max_size=80))
def test_parser_never_raises(candidate: str) -> None:
    assert crypto.is_well_formed(candidate, "lg") in (True, False)


@given(st.data())
def test_checksum_catches_every_single_character_change(data: st.DataObject) -> None:
    body = data.draw(st.text(alphabet=crypto.BASE62, min_size=32, max_size=32))
    key = f"lg_{body}{crypto.checksum(body)}"
    assert crypto.is_well_formed(key, "lg")
    position = data.draw(st.integers(min_value=3, max_value=len(key) - 1))
    replacement = data.draw(st.sampled_from(crypto.BASE62).filter(lambda c: c != key[position]))
    changed = key[:position] + replacement + key[position + 1 :]
    assert not crypto.is_well_formed(changed, "lg")


def test_hash_is_keyed_by_the_server_secret() -> None:
    key = crypto.generate_api_key("lg").plaintext
    one = crypto.hash_api_key(key, b"secret-one")
    assert one == crypto.hash_api_key(key, b"secret-one")
    assert one != crypto.hash_api_key(key, b"secret-two")
    assert len(one) == 64
    assert key not in one


def test_ids_are_prefixed_and_time_sortable() -> None:
    ids = [new_id("lead") for _ in range(50)]
    assert all(re.fullmatch(r"lead_[0-9a-z]{26}", i) for i in ids)
    assert len(set(ids)) == 50
    timestamps = [i[5:15] for i in ids]
    assert timestamps == sorted(timestamps)


@given(st.emails())
def test_email_normalisation_is_idempotent(email: str) -> None:
    try:
        once = normalize_email(email)
    except ValueError:
        return
    assert normalize_email(once) == once
    local, _, domain = once.rpartition("@")
    assert normalize_email(f"{local}@{domain.upper()}") == once
    assert email_key(once) == email_key(f"{local.upper()}@{domain}")


@given(st.text(alphabet=string.digits + " +-()", min_size=1, max_size=20))
def test_phone_normalisation_is_idempotent(raw: str) -> None:
    try:
        once = normalize_phone(raw, "US")
    except ValueError:
        return
    assert once.startswith("+")
    assert normalize_phone(once, "GB") == once


def test_name_key_folds_case_and_spacing() -> None:
    assert name_key(" Ada ", "LOVELACE") == name_key("ada", "lovelace")
    assert name_key("Mary Ann", "Smith") == name_key("mary  ann", "smith")
    assert name_key("Ann", "Mary Smith") != name_key("Ann Mary", "Smith")


def test_production_refuses_default_secrets(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="LEADGATE_SECRET_KEY"):
        Settings(
            environment="production", data_dir=tmp_path, database_url="postgresql+asyncpg://x/y"
        )
    with pytest.raises(ValueError, match="LEADGATE_DATABASE_URL"):
        Settings(environment="production", data_dir=tmp_path, secret_key="s" * 40)
    ok = Settings(
        environment="production",
        data_dir=tmp_path,
        secret_key="s" * 40,
        database_url="postgresql+asyncpg://x/y",
    )
    assert ok.secret_bytes == b"s" * 40


def test_development_generates_and_keeps_a_secret(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).secret_bytes
    assert len(first) >= 48
    assert (tmp_path / "server-secret").stat().st_mode & 0o777 == 0o600
    assert Settings(data_dir=tmp_path).secret_bytes == first
    assert Settings(data_dir=tmp_path).resolved_database_url.startswith("sqlite+aiosqlite:///")


def test_base_domain_is_normalised(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path, base_domain=".LocalTest.ME.").base_domain == "localtest.me"
    assert Settings(data_dir=tmp_path, base_domain="").base_domain is None


def test_redis_client_only_when_configured(tmp_path: Path) -> None:
    from leadgate.redis import create_redis, redis_key

    assert create_redis(Settings(data_dir=tmp_path)) is None
    configured = Settings(
        data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/0", redis_prefix="x:"
    )
    assert create_redis(configured) is not None
    assert redis_key(configured, "rl", "key_1") == "x:rl:key_1"


@given(st.integers(0, 2**48 - 1), st.integers(0, 2**80 - 1))
def test_ids_are_the_base32_digits_of_time_and_randomness(millis: int, rand: int) -> None:
    from leadgate.ids import encode_id, id_of

    assert id_of("lead", millis, rand) == encode_id("lead", millis, rand)


def test_ids_sort_by_time() -> None:
    from leadgate.ids import id_of

    assert id_of("x", 1, 2**80 - 1) < id_of("x", 2, 0) < id_of("x", 2**48 - 1, 0)

"""Encrypted eth-account keystores (Web3 Secret Storage v3, scrypt) for the owner and operator.

Passwords come from, in order: a password file named in the config, the environment
(``PINFI_OPERATOR_PASSWORD`` / ``PINFI_OWNER_PASSWORD``), or a prompt when stdin is a terminal.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path
from typing import Literal

from eth_account import Account
from eth_account.signers.local import LocalAccount


class KeystoreError(ValueError):
    """Missing keystore, wrong password...; one line for the operator."""


ENV = {"operator": "PINFI_OPERATOR_PASSWORD", "owner": "PINFI_OWNER_PASSWORD",
       "verifier": "PINFI_VERIFIER_PASSWORD"}


def create(path: Path, password: str, private_key: bytes | str | None = None,
           kdf: Literal["scrypt", "pbkdf2"] = "scrypt", iterations: int | None = None) -> str:
    """Write a new (or imported) encrypted keystore at ``path`` (mode 0600); returns its address."""
    if path.exists():
        raise KeystoreError(f"keystore {path} already exists (refusing to overwrite)")
    if not password:
        raise KeystoreError("an empty keystore password is not allowed")
    acct = Account.from_key(private_key) if private_key is not None else Account.create()
    data = Account.encrypt(acct.key, password, kdf=kdf, iterations=iterations)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    return str(acct.address)


def _read(path: Path, role: str = "") -> dict:
    """The keystore's JSON; KeystoreError (one line) when missing or not JSON."""
    what = f"{role} keystore" if role else "keystore"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise KeystoreError(f"{what} {path} not found") from None
    except json.JSONDecodeError:
        raise KeystoreError(f"{what} {path} is not valid JSON") from None


def address_of(path: Path) -> str:
    """The address recorded in a keystore (no password needed)."""
    addr = _read(path).get("address")
    if not addr:
        raise KeystoreError(f"keystore {path} has no address field")
    return "0x" + addr.removeprefix("0x")


def password(role: str, password_file: Path | None = None, prompt: bool = True) -> str:
    """The password of the ``role`` (operator/owner) keystore."""
    if password_file is not None:
        try:
            return password_file.read_text().rstrip("\r\n")
        except FileNotFoundError:
            raise KeystoreError(f"password file {password_file} not found") from None
    env = os.environ.get(ENV[role])
    if env is not None:
        return env
    if prompt and sys.stdin.isatty():
        return getpass.getpass(f"{role} keystore password: ")
    raise KeystoreError(f"no password for the {role} keystore: set {ENV[role]} or "
                        f"{role}_password_file in [keys]")


def load(path: Path, pw: str, role: str = "operator") -> LocalAccount:
    """Decrypt ``path``; :class:`KeystoreError` on a wrong password or a bad file."""
    data = _read(path, role)
    try:
        key = Account.decrypt(data, pw)
    except ValueError:
        raise KeystoreError(f"wrong password for the {role} keystore {path}") from None
    return Account.from_key(key)

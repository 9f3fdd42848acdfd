"""Where the ``pinfi`` command finds the client's key (docs/delivery.md#cli-keys).

In order: ``--keystore FILE`` (or ``$PINFI_KEYSTORE``), an eth-account V3 keystore whose
password comes from ``--password-file`` / ``$PINFI_PASSWORD_FILE``, ``$PINFI_PASSWORD`` or a
prompt on a terminal; else ``$PINFI_PRIVATE_KEY`` (a 0x-hex key, for CI and local chains: it sits
in the environment in clear). A private key is never read from a command-line argument (shell
history and ``ps`` would show it).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount


class KeyError_(Exception):
    """No usable key; ``str(err)`` is one line."""


def _password(password_file: str | None) -> str:
    pf = password_file or os.environ.get("PINFI_PASSWORD_FILE")
    if pf:
        try:
            return Path(pf).read_text().rstrip("\r\n")
        except OSError as err:
            raise KeyError_(f"cannot read password file {pf}: {err.strerror}") from None
    env = os.environ.get("PINFI_PASSWORD")
    if env is not None:
        return env
    if sys.stdin.isatty():
        return getpass.getpass("keystore password: ")
    raise KeyError_("the keystore needs a password: --password-file, $PINFI_PASSWORD_FILE or "
                    "$PINFI_PASSWORD")


def load(keystore: str | None, password_file: str | None,
         required: bool = True) -> LocalAccount | None:
    """The client's account (None when no key is configured and ``required`` is False)."""
    path = keystore or os.environ.get("PINFI_KEYSTORE")
    if path:
        try:
            data = json.loads(Path(path).read_text())
        except OSError as err:
            raise KeyError_(f"cannot read keystore {path}: {err.strerror}") from None
        except ValueError:
            raise KeyError_(f"keystore {path} is not JSON") from None
        try:
            key = Account.decrypt(data, _password(password_file))
        except ValueError:
            raise KeyError_(f"wrong password for keystore {path}") from None
        except (KeyError, TypeError):
            raise KeyError_(f"keystore {path} is not an eth-account V3 keystore") from None
        acct: LocalAccount = Account.from_key(key)
        return acct
    raw = os.environ.get("PINFI_PRIVATE_KEY")
    if raw:
        try:
            acct = Account.from_key(raw.strip())
        except (ValueError, TypeError):
            raise KeyError_("$PINFI_PRIVATE_KEY is not a 32-byte hex private key") from None
        return acct
    if required:
        raise KeyError_("no key: pass --keystore FILE (or set $PINFI_KEYSTORE), or set "
                        "$PINFI_PRIVATE_KEY")
    return None


def create(path: Path, password: str) -> LocalAccount:
    """A fresh key written as an encrypted keystore at ``path`` (refuses to overwrite)."""
    if path.exists():
        raise KeyError_(f"{path} exists; not overwriting a keystore")
    acct: LocalAccount = Account.create()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(Account.encrypt(acct.key, password), f)
    return acct

"""
``wampchat-admin``: manage chat accounts and the database schema from the shell.

It works on the same database as the server (a SQLite file or a
postgresql:// URL), before or while the server runs:

    wampchat-admin --db var/wampchat.sqlite adduser ann --role admin
    wampchat-admin --db postgresql://wampchat:secret@db/wampchat migrate
    wampchat-admin --db var/wampchat.sqlite token ann --name deploy-bot
    wampchat-admin --db var/wampchat.sqlite addkey bot 3c4a...e1 --comment "CI runner"

The password is read from the terminal (``getpass``) or, when stdin is not a
terminal, from its first line, so scripts can pipe it in. It is stored only
as salted slow hashes (see ``wampchat.router.credentials``). Every node
reads credentials per login and display names per use, so changes apply at
the next login, on every node of a cluster.
"""
import argparse
import getpass
import sys
import time

from wampchat.chat import checks
from wampchat.router.credentials import make_credentials
from wampchat.router.cryptosign import normalize_pubkey
from wampchat.router.tokens import new_token
from wampchat.storage import LATEST_VERSION, StartupError, engine_for, migrate, run_sync
from wampchat.storage.chat.accounts import add_user, get_user, list_users as _list_users, update_user
from wampchat.storage.chat.keys import add_key
from wampchat.storage.chat.tokens import TooManyTokens, add_token

ROLES = ("user", "admin", "service")
DEFAULT_DB = "./var/wampchat.sqlite"


def _parser():
    parser = argparse.ArgumentParser(prog="wampchat-admin", description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("--db", default=DEFAULT_DB,
                        help=f"the chat database: a SQLite file or a postgresql:// URL [default: {DEFAULT_DB}]")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("adduser", help="add a user (password from the terminal or stdin)")
    add.add_argument("username", help="a-z, 0-9 and _, 2..32 characters")
    add.add_argument("--role", choices=ROLES, default="user")
    add.add_argument("--display-name", default=None, help="the nick others see [default: the username]")
    change = commands.add_parser("setuser", help="change a user's role or display name")
    change.add_argument("username")
    change.add_argument("--role", choices=ROLES, default=None)
    change.add_argument("--display-name", default=None)
    commands.add_parser("users", help="list users and their roles")
    token = commands.add_parser("token", help="make an API token for a user and print it (shown only now)")
    token.add_argument("username")
    token.add_argument("--name", default="api", help="what the token is for, as its owner sees it in the list")
    key = commands.add_parser("addkey", help="let a user log in with WAMP-Cryptosign (an Ed25519 public key)")
    key.add_argument("username")
    key.add_argument("pubkey", help="the public key: 64 hex digits")
    key.add_argument("--comment", default="", help="a note kept with the key")
    commands.add_parser("migrate", help=f"upgrade the database schema to version {LATEST_VERSION}")
    return parser


def _read_password(stdin):
    """The new password: asked twice on a terminal, the first line of a pipe otherwise."""
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != first:
            raise ValueError("the passwords differ")
        return first
    return stdin.readline().rstrip("\r\n")


def _transaction(db, fn, *args, upgrade=False):
    """Run ``fn(tx, *args)`` on ``db`` in one transaction (creating the schema in an empty database)."""
    engine = engine_for(db)
    conn = engine.connect()
    try:
        migrate(engine, conn, upgrade=upgrade)
        return run_sync(engine, conn, fn, *args)
    finally:
        conn.close()


def add_user_command(db, username, role, display_name, password, now_ms):
    """Validate and insert one user; returns an error text or None on success."""
    if not checks.USERNAME_RE.match(username) or username.startswith("guest_"):
        return f"username must match {checks.USERNAME_RE.pattern} and not start with guest_"
    if not checks.PASSWORD_MIN <= len(password) <= checks.PASSWORD_MAX:
        return f"password must be {checks.PASSWORD_MIN}..{checks.PASSWORD_MAX} characters"
    creds = make_credentials(username, password, role)

    def add(tx):
        if get_user(tx, username) is not None:
            return f"user {username!r} exists already"
        add_user(tx, creds, display_name or username, now_ms)
        return None

    try:
        return _transaction(db, add)
    except engine_for(db).integrity_errors:  # added by someone else since we looked
        return f"user {username!r} exists already"


def set_user_command(db, username, role=None, display_name=None):
    """Change a user's role and/or display name; returns an error text or None."""
    if display_name is not None and not 1 <= len(display_name.strip()) <= 32:
        return "display name must be 1..32 characters"
    if not _transaction(db, update_user, username, role, display_name):
        return f"no user {username!r}"
    return None


def list_users(db):
    """(username, role, display name) for every user, by name."""
    return [(r["username"], r["role"], r["display_name"]) for r in _transaction(db, _list_users)]


def token_command(db, username, name, now_ms):
    """(token, None) for a new API token of a live user, or (None, error text)."""
    token_id, token, digest = new_token()

    def add(tx):
        user = get_user(tx, username)
        if user is None or user["deleted"]:
            return f"no user {username!r}"
        try:
            add_token(tx, token_id, username, name, digest, now_ms)
        except TooManyTokens as e:
            return str(e)
        return None

    error = _transaction(db, add)
    return (None, error) if error else (token, None)


def addkey_command(db, username, pubkey, comment, now_ms):
    """Put a Cryptosign public key on file for a user; an error text or None."""
    try:
        pubkey = normalize_pubkey(pubkey)
    except ValueError as e:
        return str(e)
    return _transaction(db, add_key, username, pubkey, comment, now_ms)


def migrate_command(db):
    """Upgrade the schema; returns (version found, version now)."""
    engine = engine_for(db)
    conn = engine.connect()
    try:
        return migrate(engine, conn, upgrade=True)
    finally:
        conn.close()


def _run(args, stdin, stdout):
    """The chosen command; an error text or None."""
    if args.command == "users":
        for username, role, display_name in list_users(args.db):
            print(f"{username}\t{role}\t{display_name}", file=stdout)
        return None
    if args.command == "migrate":
        found, now = migrate_command(args.db)
        print(f"schema version {found} -> {now}" if found != now else f"schema is at version {now}", file=stdout)
        return None
    if args.command == "token":
        token, error = token_command(args.db, args.username, args.name, int(time.time() * 1000))
        if token is not None:
            print(token, file=stdout)
        return error
    if args.command == "addkey":
        error = addkey_command(args.db, args.username, args.pubkey, args.comment, int(time.time() * 1000))
        if error is None:
            print(f"added a Cryptosign key for {args.username}", file=stdout)
        return error
    if args.command == "setuser":
        error = set_user_command(args.db, args.username, args.role, args.display_name)
        if error is None:
            print(f"changed {args.username}", file=stdout)
        return error
    try:
        password = _read_password(stdin)
    except (ValueError, EOFError) as e:
        return str(e)
    error = add_user_command(args.db, args.username, args.role, args.display_name, password,
                             int(time.time() * 1000))
    if error is None:
        print(f"added {args.username} ({args.role}) to {args.db}", file=stdout)
    return error


def main(argv=None, stdin=None, stdout=None, stderr=None):
    """Console entry point; returns the exit status."""
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    args = _parser().parse_args(argv)
    try:
        error = _run(args, stdin, stdout)
    except StartupError as e:
        error = str(e)
    if error is not None:
        print(f"wampchat-admin: {error}", file=stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

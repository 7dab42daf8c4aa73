"""
``wampchat-admin``: manage chat accounts from the shell.

The running server keeps its users in the same SQLite file, so an operator
can add the first admin (or any user) before or while the server runs:

    wampchat-admin --db var/wampchat.sqlite adduser ann --role admin

The password is read from the terminal (``getpass``) or, when stdin is not a
terminal, from its first line, so scripts can pipe it in. It is stored only
as salted slow hashes (see ``wampchat.router.credentials``). A running
server sees a new user at its next login (credentials are read per login);
its display name shows up after the server restarts.
"""
import argparse
import getpass
import sqlite3
import sys
import time

from wampchat.chat import model
from wampchat.chat.store import add_user, get_user, open_connection
from wampchat.router.credentials import make_credentials

ROLES = ("user", "admin", "service")
DEFAULT_DB = "./var/wampchat.sqlite"


def _parser():
    parser = argparse.ArgumentParser(prog="wampchat-admin", description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("--db", default=DEFAULT_DB, help=f"the chat database [default: {DEFAULT_DB}]")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("adduser", help="add a user (password from the terminal or stdin)")
    add.add_argument("username", help="a-z, 0-9 and _, 2..32 characters")
    add.add_argument("--role", choices=ROLES, default="user")
    add.add_argument("--display-name", default=None, help="the nick others see [default: the username]")
    commands.add_parser("users", help="list users and their roles")
    return parser


def _read_password(stdin):
    """The new password: asked twice on a terminal, the first line of a pipe otherwise."""
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != first:
            raise ValueError("the passwords differ")
        return first
    return stdin.readline().rstrip("\r\n")


def add_user_command(db, username, role, display_name, password, now_ms):
    """Validate and insert one user; returns an error text or None on success."""
    if not model.USERNAME_RE.match(username) or username.startswith("guest_"):
        return f"username must match {model.USERNAME_RE.pattern} and not start with guest_"
    if not model.PASSWORD_MIN <= len(password) <= model.PASSWORD_MAX:
        return f"password must be {model.PASSWORD_MIN}..{model.PASSWORD_MAX} characters"
    conn = open_connection(db)
    try:
        cur = conn.cursor()
        if get_user(cur, username) is not None:
            return f"user {username!r} exists already"
        creds = make_credentials(username, password, role)
        try:
            add_user(cur, creds, display_name or username, now_ms)
        except sqlite3.IntegrityError:
            return f"user {username!r} exists already"
        conn.commit()
    finally:
        conn.close()
    return None


def list_users(db):
    """(username, role, display name) for every user, by name."""
    conn = open_connection(db)
    try:
        rows = conn.execute("SELECT username, role, display_name FROM users ORDER BY username").fetchall()
    finally:
        conn.close()
    return [(r["username"], r["role"], r["display_name"]) for r in rows]


def main(argv=None, stdin=None, stdout=None, stderr=None):
    """Console entry point; returns the exit status."""
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    args = _parser().parse_args(argv)
    if args.command == "users":
        for username, role, display_name in list_users(args.db):
            print(f"{username}\t{role}\t{display_name}", file=stdout)
        return 0
    try:
        password = _read_password(stdin)
    except (ValueError, EOFError) as e:
        print(f"wampchat-admin: {e}", file=stderr)
        return 1
    error = add_user_command(args.db, args.username, args.role, args.display_name, password,
                             int(time.time() * 1000))
    if error is not None:
        print(f"wampchat-admin: {error}", file=stderr)
        return 1
    print(f"added {args.username} ({args.role}) to {args.db}", file=stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

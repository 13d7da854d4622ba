"""A private Dovecot IMAP server for the mail tests, and a tiny OAuth2 provider beside it.

Dovecot (Debian's ``dovecot-imapd``) runs from a configuration of its own in a temporary
directory: it listens on 127.0.0.1 only, on free ports for IMAP (STARTTLS offered) and
IMAPS (a self-signed certificate made here), keeps mail in maildirs under the same
directory and logs to ``dovecot.log`` there. Two password databases: passwd-files with
the users a test adds (``add_user``, a file each), and ``driver = oauth2`` for XOAUTH2,
which asks the :class:`OAuthProvider` below whether an access token is valid.

The provider is an ``http.server`` in a thread with two endpoints:

- ``POST /token``: the refresh-token grant (RFC 6749 section 6), as Microsoft's and
  Google's token endpoints answer it; it may rotate the refresh token;
- ``GET /introspect``: Dovecot's ``introspection_mode = auth`` (the access token as a
  Bearer header); it answers the user's address and whether the token is active.

Nothing here is a mock of our code: the tests drive the real IMAP client, the real
server and real HTTP.
"""

import contextlib
import datetime
import email.policy
import email.utils
import grp
import ipaddress
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

from imap_tools import MailBoxUnencrypted

DOVECOT = shutil.which("dovecot") or (
    "/usr/sbin/dovecot" if os.access("/usr/sbin/dovecot", os.X_OK) else None
)
DOMAIN = "helpdesk.test"


def available() -> bool:
    return DOVECOT is not None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- mail -------------------------------------------------------------------------------


def make_mail(
    subject: str,
    *,
    sender: str = "Alice Example <alice@example.com>",
    to: str = "servicedesk@helpdesk.test",
    body: str = "The printer on the second floor is out of toner.",
    message_id: str | None = None,
) -> bytes:
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(localtime=True)
    message["Message-ID"] = message_id or email.utils.make_msgid(domain="example.com")
    message.set_content(body)
    return message.as_bytes()


# --- the OAuth2 provider -----------------------------------------------------------------


@dataclass
class _AccessToken:
    user: str
    expires: float


@dataclass
class OAuthProvider:
    """Issues and checks tokens; every request it answered is kept for the tests to read."""

    client_id: str = "helpdesk-client"
    client_secret: str = "helpdesk-secret"
    rotate_refresh_tokens: bool = False
    access_lifetime: int = 3600
    refresh_tokens: dict = field(default_factory=dict)  # token -> user
    access_tokens: dict = field(default_factory=dict)  # token -> _AccessToken
    token_requests: list = field(default_factory=list)
    introspections: list = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    @property
    def introspection_url(self) -> str:
        return f"{self.base_url}/introspect"

    def issue_refresh_token(self, user: str) -> str:
        token = "rt-" + secrets.token_urlsafe(16)
        self.refresh_tokens[token] = user
        return token

    def issue_access_token(self, user: str, lifetime: int | None = None) -> str:
        token = "at-" + secrets.token_urlsafe(16)
        lifetime = self.access_lifetime if lifetime is None else lifetime
        self.access_tokens[token] = _AccessToken(user, time.time() + lifetime)
        return token

    def revoke(self, user: str) -> None:
        """Every token of the user stops working (a password change, an admin's revocation)."""
        for tokens in (self.refresh_tokens, self.access_tokens):
            for token, owner in list(tokens.items()):
                if getattr(owner, "user", owner) == user:
                    del tokens[token]

    # The HTTP side, called from the server's threads.

    def _token(self, form: dict) -> tuple[int, dict]:
        self.token_requests.append(form)
        if form.get("grant_type") != "refresh_token":
            return 400, {"error": "unsupported_grant_type"}
        if form.get("client_id") != self.client_id or (
            form.get("client_secret") != self.client_secret
        ):
            return 401, {"error": "invalid_client", "error_description": "Unknown client."}
        user = self.refresh_tokens.get(form.get("refresh_token", ""))
        if user is None:
            return 400, {
                "error": "invalid_grant",
                "error_description": "The refresh token has expired or was revoked.",
            }
        answer = {
            "token_type": "Bearer",
            "access_token": self.issue_access_token(user),
            "expires_in": self.access_lifetime,
        }
        if self.rotate_refresh_tokens:
            del self.refresh_tokens[form["refresh_token"]]
            answer["refresh_token"] = self.issue_refresh_token(user)
        return 200, answer

    def _introspect(self, authorization: str) -> tuple[int, dict]:
        token = authorization.removeprefix("Bearer ").strip()
        self.introspections.append(token)
        access = self.access_tokens.get(token)
        if access is None or access.expires < time.time():
            return 200, {"active": "false"}
        return 200, {"email": access.user, "active": "true"}

    def start(self) -> None:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                if self.path != "/token":
                    self._answer(404, {"error": "not_found"})
                    return
                form = {key: values[0] for key, values in parse_qs(body).items()}
                self._answer(*provider._token(form))

            def do_GET(self):
                if self.path != "/introspect":
                    self._answer(404, {"error": "not_found"})
                    return
                self._answer(*provider._introspect(self.headers.get("Authorization", "")))

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


# --- Dovecot -----------------------------------------------------------------------------


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


CONFIG = """\
# Written by tests/mail/dovecot.py for one test session.
instance_name = {instance}
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
debug_log_path = {dir}/dovecot.log
auth_verbose = yes
auth_verbose_passwords = no
protocols = imap
listen = 127.0.0.1
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = 1
first_valid_gid = 1
disable_plaintext_auth = no
# No waiting after a refused sign-in, and no growing penalty for the address that keeps
# failing (every test connects from 127.0.0.1; several sign in wrongly on purpose).
auth_failure_delay = 0
auth_mechanisms = plain login xoauth2
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
{ssl_dh}
mail_location = maildir:{dir}/mail/%u
mail_uid = {mail_uid}
mail_gid = {mail_gid}
mail_privileged_group =
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  # The documented way to turn the auth penalty off: auth cannot reach anvil for it.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    user = {internal_user}
  }}
  unix_listener stats-writer {{
    user = {internal_user}
  }}
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {dir}/users/%u
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2
  args = {dir}/oauth2.conf.ext
}}
userdb {{
  driver = static
  args = home={dir}/home/%u
}}
"""

OAUTH2_CONFIG = """\
introspection_mode = auth
introspection_url = {introspection_url}
force_introspection = yes
username_attribute = email
active_attribute = active
active_value = true
timeout_msecs = 5000
"""


class Dovecot:
    """One Dovecot process tree; ``start`` returns once it answers on its IMAP port."""

    host = "127.0.0.1"

    def __init__(self, oauth: OAuthProvider):
        self.oauth = oauth
        self.process: subprocess.Popen | None = None
        self.dir = Path(tempfile.mkdtemp(prefix="helpdesk-dovecot-"))
        self.imap_port = free_port()
        self.imaps_port = free_port()
        self.log_path = self.dir / "dovecot.log"
        self.passwords: dict[str, str] = {}
        self._users = 0

    def _accounts(self) -> dict:
        """Who the processes run as. As root (a container, CI), Dovecot's own package users
        for the login and internal processes and ``nobody`` for the mail (Dovecot refuses
        mail access as UID 0); otherwise everything runs as the current user."""
        if os.getuid() != 0:
            me = pwd.getpwuid(os.getuid())
            return {
                "login_user": me.pw_name,
                "internal_user": me.pw_name,
                "internal_group": grp.getgrgid(os.getgid()).gr_name,
                "mail_uid": me.pw_uid,
                "mail_gid": me.pw_gid,
            }
        nobody = pwd.getpwnam("nobody")
        login_user = "dovenull" if _user_exists("dovenull") else "nobody"
        internal_user = "dovecot" if _user_exists("dovecot") else "nobody"
        return {
            "login_user": login_user,
            "internal_user": internal_user,
            "internal_group": internal_user,
            "mail_uid": nobody.pw_uid,
            "mail_gid": nobody.pw_gid,
        }

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        accounts = self._accounts()
        cert, key = _self_signed_certificate(self.dir)
        self.cert_path = cert
        for sub in ("mail", "home"):
            (self.dir / sub).mkdir()
            if os.getuid() == 0:
                os.chown(self.dir / sub, accounts["mail_uid"], accounts["mail_gid"])
        if os.getuid() == 0:
            # The unprivileged processes must reach the mail and the sockets below it.
            self.dir.chmod(0o755)
        (self.dir / "users").mkdir()
        (self.dir / "oauth2.conf.ext").write_text(
            OAUTH2_CONFIG.format(introspection_url=self.oauth.introspection_url)
        )
        dh = Path("/usr/share/dovecot/dh.pem")
        self.config_path = self.dir / "dovecot.conf"
        self.config_path.write_text(
            CONFIG.format(
                instance=f"helpdesk-test-{os.getpid()}",
                dir=self.dir,
                cert=cert,
                key=key,
                ssl_dh=f"ssl_dh = <{dh}" if dh.exists() else "",
                imap_port=self.imap_port,
                imaps_port=self.imaps_port,
                **accounts,
            )
        )
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode(errors="replace")
                raise RuntimeError(f"dovecot exited at start:\n{output}\n{self.log()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.imap_port), timeout=1) as probe,
            ):
                if probe.recv(100).startswith(b"* OK"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"dovecot did not answer on port {self.imap_port}:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout:
            self.process.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self, offset: int = 0) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    # Users and their mail.

    def add_user(self, prefix: str = "box", password: str | None = None) -> str:
        """A new user with an empty mailbox."""
        self._users += 1
        user = f"{prefix}{self._users}@{DOMAIN}"
        password = password or secrets.token_urlsafe(12)
        self.passwords[user] = password
        # One passwd-file per user: Dovecot re-reads a changed file at most once a second,
        # but reads a file it has not seen before at once.
        (self.dir / "users" / user).write_text(f"{user}:{{PLAIN}}{password}::::::\n")
        return user

    @contextlib.contextmanager
    def client(self, user: str, folder: str = "INBOX"):
        """The test's own IMAP session: to put mail in and look at what the fetcher left."""
        box = MailBoxUnencrypted(self.host, self.imap_port, timeout=10)
        box.login(user, self.passwords[user], initial_folder=None)
        try:
            if folder is not None:
                box.folder.set(folder)
            yield box
        finally:
            with contextlib.suppress(Exception):
                box.logout()

    def append(self, user: str, *messages: bytes, folder: str = "INBOX", flags=()) -> None:
        with self.client(user, folder=None) as box:
            if not box.folder.exists(folder):
                box.folder.create(folder)
            for raw in messages:
                box.append(raw, folder, flag_set=flags or None)

    def contents(self, user: str, folder: str = "INBOX") -> list[tuple[str, set]]:
        """(Subject, flags) of every mail in the folder, in UID order, never marking any.

        ``\\Recent`` is left out: it says which session saw a mail first, not what the
        fetcher did."""
        with self.client(user, folder=None) as box:
            if not box.folder.exists(folder):
                return []
            box.folder.set(folder, readonly=True)
            return [
                (message.subject, set(message.flags) - {"\\Recent"})
                for message in box.fetch(mark_seen=False, headers_only=True)
            ]


def _die_with_parent() -> None:
    """In the child before exec: Linux sends it SIGTERM if the test process dies, so that
    a killed test run leaves no Dovecot behind."""
    with contextlib.suppress(Exception):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


# --- a TCP proxy that can break the connection -------------------------------------------


class CuttingProxy:
    """Between the fetcher and Dovecot: passes bytes both ways until told to cut.

    ``cut_after``: close every connection once that many bytes came from the server (in
    the middle of whatever is on its way); ``cut()``: close them now; ``stall()``: keep
    them open but pass nothing more from the server (a server that stopped answering)."""

    def __init__(self, upstream_port: int, *, cut_after: int | None = None):
        self.upstream_port = upstream_port
        self.cut_after = cut_after
        self.from_server = 0
        self.stalled = False
        self.connections: list[tuple[socket.socket, socket.socket]] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                self.connections.append((client, server))
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, from_server: bool) -> None:
        try:
            while data := source.recv(65536):
                if from_server and self.stalled:
                    continue
                if from_server and self.cut_after is not None:
                    with self._lock:
                        room = self.cut_after - self.from_server
                        self.from_server += len(data)
                    if room <= len(data):
                        target.sendall(data[: max(room, 0)])
                        self.cut()
                        return
                target.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)

    def stall(self) -> None:
        self.stalled = True

    def cut(self) -> None:
        with self._lock:
            connections = list(self.connections)
        for pair in connections:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()

    def close(self) -> None:
        self.cut()
        with contextlib.suppress(OSError):
            self._listener.close()

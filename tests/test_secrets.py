"""Secrets with a stray byte never leak (issue 16, item 1): `sparky_resources.secrets`.

A `GITHUB_TOKEN` saved with Windows line endings (`ghp_…\\r`) once reached Dagster's run
database, event log, compute logs and stdout six times: httpx refused the header and quoted it
back escaped, and the client retried. Here each kind of stray character goes through what a user
runs: `dagster asset materialize` in a subprocess with a temporary `DAGSTER_HOME` (SQLite
storage, compute logs), the loopback fake GitHub, and for `SPARKY_PUBLISH_TOKEN` a real https
git remote (`git http-backend` behind Basic auth). After each run no 8-character piece of the
token may be found in any file under `DAGSTER_HOME`, `data/`, `output/` or the captured output.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, quote_plus, urlsplit

import dagster as dg
import pytest
from fakes.github_org import Org, build_org
from fakes.github_server import FakeGitHub
from pydantic import SecretStr
from sparky_defs import assets, session_org

from sparky_resources import secrets
from sparky_resources.github import GitHubClient, GitHubError
from sparky_resources.github_collect import GitHubResource
from sparky_resources.publisher import GitPublisherResource, PublishError
from sparky_resources.secrets import SecretError, read_secret, redact

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
CORE = "ghp_R3alLook1ngT0kenF0rSparkyT3sts42"  # 40 characters, like a classic token
GITHUB_ASSETS = (
    "raw_pull_requests,raw_issues,raw_releases,raw_github_commits,raw_deployments,raw_ownership,"
    "raw_backlog"
)

# Whitespace around a token is how editors and files save a line: stripped, the run works.
SURROUNDING = {
    "crlf-file": CORE + "\r",
    "trailing-newline": CORE + "\n",
    "tab-and-space": "\t" + CORE + " \r\n",
}
# Anything else that is not printable ASCII: refused in one line naming the variable.
EMBEDDED = {
    "carriage-return": (CORE[:12] + "\r" + CORE[12:], "a control character (carriage return"),
    "newline": (CORE[:12] + "\n" + CORE[12:], "a control character (line feed"),
    "tab": (CORE[:12] + "\t" + CORE[12:], "a control character (tab"),
    "space": (CORE[:12] + " " + CORE[12:], "a space"),
    "non-ascii": (CORE[:12] + "é" + CORE[12:], "a non-ASCII character"),
}


def pieces(token: str) -> set[bytes]:
    """Every 8-character piece of the token as set (whitespace included), as UTF-8."""
    return {token[i : i + 8].encode("utf-8") for i in range(len(token) - 7)}


def leaks(token: str, *places: Path | str | bytes) -> list[str]:
    """Where an 8-character piece of `token` is found: files under folders (read as bytes, SQLite
    databases and compute logs included), single files, or captured text."""
    found = []
    wanted = pieces(token)
    for place in places:
        if isinstance(place, Path):
            files = [place] if place.is_file() else [p for p in place.rglob("*") if p.is_file()]
            for file in files:
                data = file.read_bytes()
                found += [f"{file}: {p!r}" for p in wanted if p in data]
        else:
            data = place.encode("utf-8") if isinstance(place, str) else place
            found += [f"output: {p!r}" for p in wanted if p in data]
    return found


# --- reading: strip, refuse, never echo --------------------------------------------------------


@pytest.mark.parametrize("token", SURROUNDING.values(), ids=SURROUNDING.keys())
def test_surrounding_whitespace_is_stripped(token: str) -> None:
    secret = read_secret("GITHUB_TOKEN", {"GITHUB_TOKEN": token})
    assert secret is not None and secret.get_secret_value() == CORE


@pytest.mark.parametrize("blank", ["", " ", "\r\n", "\t \n"])
def test_blank_is_unset(blank: str) -> None:
    assert read_secret("GITHUB_TOKEN", {"GITHUB_TOKEN": blank}) is None
    assert read_secret("GITHUB_TOKEN", {}) is None


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        *EMBEDDED.values(),
        (CORE[:12] + "\x00" + CORE[12:], "a control character (NUL"),
        (CORE[:12] + "\u200b" + CORE[12:], "an invisible character (U+200B"),
    ],
    ids=[*EMBEDDED.keys(), "nul", "zero-width-space"],
)
@pytest.mark.parametrize("name", ["GITHUB_TOKEN", "SPARKY_PUBLISH_TOKEN"])
def test_other_characters_are_refused_in_one_line_without_the_token(
    name: str, token: str, problem: str
) -> None:
    with pytest.raises(SecretError) as excinfo:
        read_secret(name, {name: "  " + token})
    message = str(excinfo.value)
    assert message.startswith(f"{name} contains {problem}")
    # Two spaces and 12 characters come before it: the 15th character of the value as set.
    assert message.endswith("position 15); re-save it without it")
    assert "\n" not in message and "\r" not in message
    assert leaks(token, message) == []


# --- redaction: every form a secret can take in an error text ----------------------------------


def test_redact_hides_every_form_of_the_secret() -> None:
    token = "ghp_AbCd/EfGh+IjKl\r\nMnOpQrStUvWx\\YzéZ"
    texts = [
        token,
        repr(token),
        ascii(token),
        json.dumps(token),
        json.dumps(token, ensure_ascii=False),
        repr(f"Bearer {token}".encode("utf-8", "backslashreplace")),
        f"Illegal header value {('Bearer ' + token).encode('latin-1', 'backslashreplace')!r}",
        quote(token, safe=""),
        quote_plus(token),
        f"https://x/?t={quote(token)}",
        "line one: ghp_AbCd/EfGh+IjKl",  # the piece before the line break, alone
        "MnOpQrStUvWx\\YzéZ was on the next line",  # and the one after it
    ]
    for text in texts:
        hidden = redact(text, [SecretStr(token)], "<redacted>")
        assert "<redacted>" in hidden, text
        assert leaks(token, hidden) == [], (text, hidden)
    assert redact("nothing to hide", [None, ""]) == "nothing to hide"


# --- GitHubClient: cleaned once, refused before any request, never retried ---------------------


@pytest.fixture(scope="module")
def org() -> Org:
    return build_org()


@pytest.mark.parametrize("token", SURROUNDING.values(), ids=SURROUNDING.keys())
def test_client_sends_the_stripped_token(org: Org, token: str) -> None:
    # The fake answers 401 to any token but CORE.
    with FakeGitHub(org, tokens={CORE}) as gh:
        for client in (
            GitHubClient(gh.base_url, None, token, sleep=lambda s: None),
            GitHubClient.from_env(gh.base_url, None, {"GITHUB_TOKEN": token}),
        ):
            with client:
                assert client.get_json(f"/orgs/{org.login}/repos")  # a list of repositories
                assert client.graphql("query { viewer { login } }")["viewer"]["login"]
        assert all(record.authenticated for record in gh.counters.log)


@pytest.mark.parametrize(("token", "problem"), EMBEDDED.values(), ids=EMBEDDED.keys())
def test_client_refuses_a_token_with_a_stray_character(token: str, problem: str) -> None:
    with pytest.raises(SecretError, match=r"^GITHUB_TOKEN contains") as excinfo:
        GitHubClient("http://127.0.0.1:9", None, token)
    assert problem in str(excinfo.value)
    with pytest.raises(SecretError):
        GitHubClient.from_env("http://127.0.0.1:9", None, {"GITHUB_TOKEN": token})
    assert leaks(token, str(excinfo.value)) == []


def test_a_header_httpx_refuses_is_not_retried_and_not_echoed(org: Org) -> None:
    """A token that bypassed `secrets` (set after construction): httpx refuses the header and
    quotes it escaped; the client neither retries nor echoes any form of it."""
    token = CORE[:20] + "\r\n" + CORE[20:] + "\r"
    sleeps: list[float] = []
    with FakeGitHub(org) as gh, GitHubClient(gh.base_url, None, "x", sleep=sleeps.append) as client:
        client._token = SecretStr(token)
        with pytest.raises(GitHubError) as excinfo:
            client.get_json(f"/orgs/{org.login}/repos")
        assert gh.counters.total == 0  # nothing was sent
    assert (client.counters.retries, sleeps) == (0, [])
    assert "request not sent" in str(excinfo.value)
    assert leaks(token, str(excinfo.value)) == []


# --- a real Dagster run: what a user runs, then every byte it left behind ------------------------


def sparky_run(
    tmp: Path, config: str, env: dict[str, str], select: str, partition: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`dagster asset materialize` as a user runs it: its own DAGSTER_HOME (SQLite storage and
    compute logs), the given config and environment."""
    (tmp / "home").mkdir(parents=True, exist_ok=True)
    (tmp / "sparky.toml").write_text(config, encoding="utf-8")
    argv = [str(BIN / "dagster"), "asset", "materialize", "-m", "sparky_assets.definitions"]
    argv += ["--select", select, *(["--partition", partition] if partition else [])]
    # One process for the steps, as the justfile's recipes run them (compute logs still kept).
    argv += ["--config-json", json.dumps({"execution": {"config": {"in_process": {}}}})]
    run_env = {
        **{k: v for k, v in os.environ.items() if k not in secrets_names()},
        "SPARKY_CONFIG": str(tmp / "sparky.toml"),
        "DAGSTER_HOME": str(tmp / "home"),
        **env,
    }
    return subprocess.run(argv, env=run_env, capture_output=True, text=True, timeout=300, cwd=ROOT)


def secrets_names() -> set[str]:
    return {secrets.GITHUB_TOKEN, secrets.PUBLISH_TOKEN}


def github_config(gh: FakeGitHub, org: Org) -> str:
    return (
        '[sparky]\ntimezone = "Europe/Berlin"\nstart_date = 2024-05-01\n'
        f'[github]\norg = "{org.login}"\napi_url = "{gh.base_url}"\n'
        "[llm]\nenabled = false\n"
    )


def assert_nothing_left(tmp: Path, token: str, proc: subprocess.CompletedProcess[str]) -> None:
    home = tmp / "home"
    assert any(home.rglob("*")) or proc.returncode != 0
    found = leaks(token, home, tmp / "data", tmp / "output", proc.stdout, proc.stderr)
    assert found == [], found[:5]


@pytest.mark.parametrize(
    "token", [SURROUNDING["crlf-file"], SURROUNDING["tab-and-space"]], ids=["crlf", "tab-crlf"]
)
def test_github_token_with_surrounding_whitespace_runs_and_leaks_nothing(
    org: Org, tmp_path: Path, token: str
) -> None:
    with FakeGitHub(org, tokens={CORE}) as gh:
        proc = sparky_run(
            tmp_path, github_config(gh, org), {"GITHUB_TOKEN": token}, GITHUB_ASSETS, str(org.day)
        )
    assert_nothing_left(tmp_path, token, proc)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert gh.counters.log and all(r.authenticated for r in gh.counters.log)
    assert gh.counters.requests["POST /graphql"] > 0  # GraphQL: only with a token
    day = json.loads((tmp_path / "data/raw/raw_github_commits" / f"{org.day}.json").read_text())
    assert day["records"]
    assert list((tmp_path / "home").rglob("compute_logs/*"))  # compute logs were captured


@pytest.mark.parametrize(("token", "problem"), EMBEDDED.values(), ids=EMBEDDED.keys())
def test_github_token_with_a_stray_character_is_one_line_and_leaks_nothing(
    org: Org, tmp_path: Path, token: str, problem: str
) -> None:
    with FakeGitHub(org) as gh:
        proc = sparky_run(
            tmp_path, github_config(gh, org), {"GITHUB_TOKEN": token}, GITHUB_ASSETS, str(org.day)
        )
    assert_nothing_left(tmp_path, token, proc)
    assert gh.counters.total == 0  # refused before any request
    assert proc.returncode != 0
    said = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "GITHUB_TOKEN contains" in ln]
    assert len(said) == 1, said
    assert f"GITHUB_TOKEN contains {problem}" in said[0]
    assert said[0].endswith("re-save it without it")


@pytest.mark.parametrize(
    "token", [SURROUNDING["crlf-file"], EMBEDDED["carriage-return"][0]], ids=["crlf", "embedded"]
)
def test_a_run_given_the_token_directly_leaks_nothing(org: Org, tmp_path: Path, token: str) -> None:
    """The resource given the raw value (not through the definitions): the client cleans or
    refuses it at run time, and the run's event log and compute logs hold no piece of it."""
    (github_activity,) = assets("raw_pull_requests")
    from sparky_resources.store import DataStore

    home = tmp_path / "home"
    home.mkdir()
    with FakeGitHub(org, tokens={CORE}) as gh, dg.instance_for_test(temp_dir=str(home)) as inst:
        resources = {
            "github": GitHubResource(org=org.login, api_url=gh.base_url, token=token),
            "org": session_org(),
            "store": DataStore(data_dir=str(tmp_path / "data"), output_dir=str(tmp_path / "out")),
        }
        result = dg.materialize(
            [github_activity],
            resources=resources,
            instance=inst,
            partition_key=str(org.day),
            raise_on_error=False,
        )
        records = inst.all_logs(result.run_id)
    messages = "\n".join(r.message or "" for r in records) + "\n".join(
        str(r.dagster_event.event_specific_data) for r in records if r.dagster_event
    )
    assert leaks(token, home, tmp_path / "data", messages) == []
    if token == SURROUNDING["crlf-file"]:
        assert result.success
    else:
        assert not result.success
        assert "GITHUB_TOKEN contains a control character (carriage return" in messages


# --- SPARKY_PUBLISH_TOKEN: a real https remote ---------------------------------------------------


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA, and its key."""
    from cryptography import x509  # through dagster-k8s's kubernetes -> google-auth
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class GitHttps:
    """Bare repositories under `root` served over https on loopback by git's own smart-HTTP
    CGI, `git http-backend` (git-http-backend(1)), behind Basic auth: a request without
    `x-access-token:<token>` gets 401 + `WWW-Authenticate: Basic`, which is what makes git ask
    its GIT_ASKPASS (gitcredentials(7)). Every password received is kept in `passwords`."""

    def __init__(self, root: Path, token: str, certs: Path) -> None:
        self.root, self.token = root, token
        self.passwords: list[str] = []
        self.cert, key = self_signed(certs)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}/{name}"

    def trust_in(self, home: Path) -> None:
        """git trusts the certificate through `http.sslCAInfo` in HOME's .gitconfig
        (git-config(1)): the publisher drops every inherited `GIT_*` variable."""
        home.mkdir(parents=True, exist_ok=True)
        (home / ".gitconfig").write_text(f"[http]\n\tsslCAInfo = {self.cert}\n")

    def __enter__(self) -> GitHttps:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                body = self._body()
                user = password = None
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Basic "):
                    decoded = base64.b64decode(auth[6:]).decode("utf-8", "replace")
                    user, _, password = decoded.partition(":")
                    server.passwords.append(password)
                if user != "x-access-token" or password != server.token:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._cgi(body, user)

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                    return self.rfile.read(int(self.headers.get("Content-Length") or 0))
                data = b""
                while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
                    data += self.rfile.read(size + 2)[:size]
                self.rfile.readline()
                return data

            def _cgi(self, body: bytes, user: str) -> None:
                parts = urlsplit(self.path)
                env = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "GIT_PROJECT_ROOT": str(server.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "GIT_CONFIG_NOSYSTEM": "1",
                    "GIT_CONFIG_GLOBAL": os.devnull,
                    "REMOTE_USER": user,  # lets receive-pack (push) in
                    "REMOTE_ADDR": "127.0.0.1",
                    "REQUEST_METHOD": self.command,
                    "PATH_INFO": parts.path,
                    "QUERY_STRING": parts.query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                }
                if self.headers.get("Content-Encoding"):
                    env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
                if self.headers.get("Git-Protocol"):
                    env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
                out = subprocess.run(
                    ["git", "http-backend"], input=body, env=env, capture_output=True, timeout=60
                ).stdout
                head, _, payload = out.partition(b"\r\n\r\n")
                status, headers = 200, []
                for line in head.decode("latin-1").split("\r\n"):
                    key, _, value = line.partition(":")
                    if key.lower() == "status":
                        status = int(value.split()[0])
                    elif key:
                        headers.append((key, value.strip()))
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


@pytest.fixture
def docs_remote(tmp_path: Path) -> Iterator[GitHttps]:
    root = tmp_path / "served"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(root / "docs.git")])
    (tmp_path / "certs").mkdir()
    with GitHttps(root, CORE, tmp_path / "certs") as server:
        yield server


def remote_files(server: GitHttps) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(server.root / "docs.git"), "ls-tree", "-r", "--name-only", "main"],
        capture_output=True,
        text=True,
    )
    return out.stdout.split()


@pytest.mark.parametrize("token", SURROUNDING.values(), ids=SURROUNDING.keys())
def test_publisher_sends_the_stripped_token(
    docs_remote: GitHttps, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    docs_remote.trust_in(tmp_path / "user")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("SPARKY_PUBLISH_TOKEN", token)
    pub = GitPublisherResource(
        work_tree=str(tmp_path / "site"),
        remote=docs_remote.url("docs.git"),
        push=True,
        token=token,  # what dg.EnvVar("SPARKY_PUBLISH_TOKEN") gives at run time
    )
    result = pub.publish({"index.md": b"# digests\n"}, "digest: index")
    assert result.pushed
    assert remote_files(docs_remote) == ["index.md"]
    assert set(docs_remote.passwords) == {CORE}
    assert leaks(token, tmp_path / "site") == []


@pytest.mark.parametrize(("token", "problem"), EMBEDDED.values(), ids=EMBEDDED.keys())
def test_publisher_refuses_a_token_with_a_stray_character(
    docs_remote: GitHttps,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    token: str,
    problem: str,
) -> None:
    docs_remote.trust_in(tmp_path / "user")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("SPARKY_PUBLISH_TOKEN", token)
    pub = GitPublisherResource(
        work_tree=str(tmp_path / "site"),
        remote=docs_remote.url("docs.git"),
        push=True,
        token=token,  # what dg.EnvVar("SPARKY_PUBLISH_TOKEN") gives at run time
    )
    with pytest.raises(PublishError) as excinfo:
        pub.publish({"index.md": b"# digests\n"}, "digest: index")
    message = str(excinfo.value)
    assert message.startswith(f"SPARKY_PUBLISH_TOKEN contains {problem}")
    assert "\n" not in message
    assert docs_remote.passwords == [] and remote_files(docs_remote) == []
    assert leaks(token, message) == []


def publish_config(server: GitHttps) -> str:
    return (
        '[sparky]\ntimezone = "UTC"\nstart_date = 2024-05-01\n'
        '[local]\nrepos = ["missing-clone"]\n[llm]\nenabled = false\n'
        f'[publish]\nremote = "{server.url("docs.git")}"\npush = true\n'
    )


@pytest.mark.parametrize(
    "token",
    ["\t" + CORE + "\r\n", EMBEDDED["newline"][0], EMBEDDED["non-ascii"][0]],
    ids=["surrounding", "embedded-newline", "non-ascii"],
)
def test_publish_token_in_a_real_dagster_run_leaks_nothing(
    docs_remote: GitHttps, tmp_path: Path, token: str
) -> None:
    docs_remote.trust_in(tmp_path / "user")
    proc = sparky_run(
        tmp_path,
        publish_config(docs_remote),
        {"SPARKY_PUBLISH_TOKEN": token, "HOME": str(tmp_path / "user")},
        "digest_index,published_digests",
    )
    assert_nothing_left(tmp_path, token, proc)
    if token.strip() == CORE:
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "index.md" in remote_files(docs_remote)
        assert set(docs_remote.passwords) == {CORE}
    else:
        assert proc.returncode != 0
        said = [
            ln
            for ln in (proc.stdout + proc.stderr).splitlines()
            if "SPARKY_PUBLISH_TOKEN contains" in ln
        ]
        assert len(said) == 1 and "re-save it without it" in said[0], said
        assert docs_remote.passwords == [] and remote_files(docs_remote) == []

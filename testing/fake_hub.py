"""A Hugging Face Hub on 127.0.0.1, in memory: just the endpoints huggingface_hub calls for the model registry (model
repos) and the training dataset (dataset repos, ``repo_type="dataset"``: model/dataset_hub.py).

Every request must carry the token. Commits are file trees; refs name commits. Tags are only
created, as the registry's version tags are: a DELETE is answered 405, so code that moves a tag fails here. Requests
are recorded as (method, path) so tests can say what crossed the wire.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

GITATTRIBUTES = b"*.npz filter=lfs diff=lfs merge=lfs -text\n"  # an excerpt of the one the Hub starts repos with


def git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    private: bool
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # sha → path → bytes
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def commit(self, files: dict[str, bytes], branch: str = "main") -> str:
        sha = secrets.token_hex(20)
        self.commits[sha], self.branches[branch] = files, sha
        return sha

    def resolve(self, revision: str) -> str | None:
        """A branch, a tag or a full commit sha → the commit sha, as the Hub resolves a revision."""
        sha = self.branches.get(revision) or self.tags.get(revision) or revision
        return sha if sha in self.commits else None


class FakeHub:
    def __init__(self, token: str):
        self.token = token
        self.repos: dict[str, Repo] = {}  # model repos
        self.datasets: dict[str, Repo] = {}  # dataset repos
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def tamper(self, repo_id: str, path: str, data: bytes) -> None:
        """Swap a file in every commit of a repo, as a compromised or corrupted store would serve it."""
        for files in self.repos[repo_id].commits.values():
            files[path] = data

    # One method per endpoint: (status, body, headers); the body is JSON unless bytes.
    def create_repo(self, body: dict) -> tuple:
        repo_id, kind = f"{body['organization']}/{body['name']}", body.get("type") or "model"
        repos, url = (self.datasets, f"{self.url}/datasets/{repo_id}") if kind == "dataset" else (self.repos,
                                                                                                f"{self.url}/{repo_id}")
        if repo_id in repos:
            return 409, {"error": f"You already created this {kind} repo", "url": url}, {}
        repos[repo_id] = repo = Repo(private=body.get("visibility") == "private")
        repo.commit({".gitattributes": GITATTRIBUTES})
        return 200, {"url": url}, {}

    def info(self, repo_id: str, repo: Repo) -> tuple:
        return 200, {"id": repo_id, "private": repo.private, "sha": repo.branches["main"]}, {}

    def refs(self, repo: Repo) -> tuple:
        def listing(refs: dict[str, str], kind: str) -> list[dict]:
            return [{"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": sha} for n, sha in refs.items()]
        return 200, {"branches": listing(repo.branches, "heads"), "tags": listing(repo.tags, "tags"),
                     "converts": [], "pullRequests": []}, {}

    def preupload(self, body: dict) -> tuple:
        return 200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                               for f in body["files"]]}, {}

    def commit(self, repo_id: str, repo: Repo, branch: str, ndjson: bytes) -> tuple:
        lines = [json.loads(line) for line in ndjson.splitlines()]
        head = repo.branches[branch]
        if lines[0]["value"].get("parentCommit", head) != head:
            return 412, {"error": "A commit has happened since. Please refresh and try again."}, {}
        files = dict(repo.commits[head])
        for line in lines[1:]:
            if line["key"] == "file":
                files[line["value"]["path"]] = base64.b64decode(line["value"]["content"])
            elif line["key"] == "deletedFile":
                del files[line["value"]["path"]]
            else:
                return 400, {"error": f"the fake Hub does not do {line['key']}"}, {}
        sha = repo.commit(files, branch)
        return 200, {"commitUrl": f"{self.url}/{repo_id}/commit/{sha}", "commitOid": sha, "pullRequestUrl": None}, {}

    def create_tag(self, repo: Repo, revision: str, body: dict) -> tuple:
        sha = repo.resolve(revision)
        if sha is None:
            return 404, {"error": "Invalid rev id"}, {"X-Error-Code": "RevisionNotFound"}
        if body["tag"] in repo.tags:
            return 409, {"error": "Tag already exists"}, {}
        repo.tags[body["tag"]] = sha
        return 200, {}, {}

    def tree(self, repo: Repo, revision: str) -> tuple:
        sha = repo.resolve(revision)
        if sha is None:
            return 404, {"error": "Invalid rev id"}, {"X-Error-Code": "RevisionNotFound"}
        return 200, [{"type": "file", "path": path, "size": len(data), "oid": git_oid(data)}
                     for path, data in sorted(repo.commits[sha].items())], {}

    def resolve(self, repo: Repo, revision: str, path: str) -> tuple:
        sha = repo.resolve(revision)
        if sha is None or path not in repo.commits[sha]:
            return 404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"}
        data = repo.commits[sha][path]
        return 200, data, {"X-Repo-Commit": sha, "ETag": f'"{git_oid(data)}"'}

    def route(self, method: str, path: str, body: bytes) -> tuple:
        if method == "POST" and path == "/api/validate-yaml":
            return 200, {"errors": [], "warnings": []}, {}
        if method == "POST" and path == "/api/repos/create":
            return self.create_repo(json.loads(body))
        api = re.fullmatch(r"/api/(models|datasets)/([^/]+/[^/]+)(?:/(refs|preupload|commit|tag|tree)(?:/([^/]+))?)?/?",
                           path)
        download = re.fullmatch(r"/(datasets/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        datasets = bool(api.group(1) == "datasets" if api else download and download.group(1))
        repo_id = (api or download).group(2) if api or download else None
        repos = self.datasets if datasets else self.repos
        if repo_id not in repos:
            return 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}
        repo = repos[repo_id]
        if download and method in ("GET", "HEAD"):
            return self.resolve(repo, unquote(download.group(3)), unquote(download.group(4)))
        endpoint, arg = api.group(3), unquote(api.group(4) or "")
        if (method, endpoint) == ("GET", None):
            return self.info(repo_id, repo)
        if (method, endpoint) == ("GET", "refs"):
            return self.refs(repo)
        if (method, endpoint) == ("POST", "preupload"):
            return self.preupload(json.loads(body))
        if (method, endpoint) == ("POST", "commit"):
            return self.commit(repo_id, repo, arg, body)
        if (method, endpoint) == ("POST", "tag"):
            return self.create_tag(repo, arg, json.loads(body))
        if (method, endpoint) == ("GET", "tree"):
            return self.tree(repo, arg)
        return 405, {"error": f"the fake Hub does not do {method} {path}"}, {}


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def handle_one(self) -> None:
            path = urlsplit(self.path).path
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with hub.lock:
                hub.requests.append((self.command, path))
                if self.headers.get("Authorization") != f"Bearer {hub.token}":
                    status, payload, headers = 401, {"error": "Invalid credentials"}, {"X-Error-Code": "RepoNotFound"}
                else:
                    status, payload, headers = hub.route(self.command, path, body)
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_HEAD = do_POST = do_DELETE = handle_one

        def log_message(self, *_: object) -> None:  # keep pytest output clean
            pass

    return Handler

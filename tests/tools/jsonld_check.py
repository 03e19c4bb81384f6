#!/usr/bin/python3
"""Expands narwhal's JSON-LD bodies with a real JSON-LD processor (pyld) and fails on any loss.

SPEC §11 promises that a JSON-LD processor expands every narwhal response without error. This
tool fetches bodies from a running narwhal with `Accept: application/ld+json`, expands each one
against /api/context.jsonld (fetched from the server, or read from --context FILE while the server
does not serve it yet) and fails when:

  - expansion raises (an invalid context, a term clash, a bad IRI);
  - a top-level key other than @context has no counterpart in the expanded node (a key without a
    term would be dropped silently; a null value is not a loss: JSON-LD reads null as "no value");
  - any key anywhere in the body, outside JSON literals (@json terms such as Labels), expands to
    no absolute IRI (the same silent drop, deeper down);
  - the expanded output still holds a relative IRI (the body could not be read without its URL).

It prints one line per body and exits 1 when any body failed.

Run it with Debian's interpreter, which has python3-pyld:

    /usr/bin/python3 tests/tools/jsonld_check.py http://127.0.0.1:9123 --crawl
    /usr/bin/python3 tests/tools/jsonld_check.py http://127.0.0.1:9123 /services /cluster \\
        --context context.jsonld --events 5
"""

import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

try:
    from pyld import jsonld
except ImportError:
    sys.exit("jsonld_check: pyld is missing; run with /usr/bin/python3 (Debian's python3-pyld)")

CONTEXT_PATH = "/api/context.jsonld"
COLLECTIONS = ["nodes", "services", "tasks", "stacks", "configs", "secrets", "networks", "volumes"]
ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


class Failure(Exception):
    """One body did not pass; the message says why."""


def fetch(url, accept, timeout):
    """(status, content type, body bytes); an HTTP error status is an answer too."""
    request = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def describe(error):
    """A pyld error and its causes on one line."""
    parts = []
    while error is not None:
        if isinstance(error, jsonld.JsonLdError):
            text = error.args[0] if error.args else error.type
            if error.code:
                text += f" [{error.code}]"
            # Details often repeat the whole context; keep the rest, briefly.
            details = {k: v for k, v in (error.details or {}).items() if k != "context"}
            if details:
                text += f" {json.dumps(details, default=str)[:200]}"
            parts.append(text)
            error = error.cause
        else:
            parts.append(f"{type(error).__name__}: {error}")
            error = None
    return ": ".join(parts)


class Checker:
    def __init__(self, base_url, context_file, timeout):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.context_file = context_file
        self.contexts = {}  # URL -> parsed context document
        self.probes = {}  # (context URL, term, @type) -> expanded IRI or None

    # -- the context -------------------------------------------------------------------------

    def load_context(self, url):
        """The context document for `url`, from --context or from the server."""
        if url not in self.contexts:
            if self.context_file:
                with open(self.context_file, encoding="utf-8") as f:
                    self.contexts[url] = json.load(f)
            else:
                status, ctype, body = fetch(url, "application/ld+json", self.timeout)
                if status != 200:
                    raise Failure(f"{url} answered HTTP {status} ({ctype}); pass --context FILE "
                                  "while the server does not serve the context")
                self.contexts[url] = json.loads(body)
        return self.contexts[url]

    def document_loader(self, url, options=None):
        # narwhal bodies name one remote document, their context; anything else is a bug.
        if urllib.parse.urlsplit(url).path.endswith(CONTEXT_PATH):
            try:
                document = self.load_context(url)
            except (Failure, OSError, ValueError) as e:
                raise jsonld.JsonLdError(f"cannot load {url}: {e}", "jsonld.LoadDocumentError",
                                         code="loading document failed")
            return {"contentType": "application/ld+json", "contextUrl": None,
                    "documentUrl": url, "document": document}
        raise jsonld.JsonLdError(f"{url} is not narwhal's context", "jsonld.LoadDocumentError",
                                 code="loading document failed")

    def json_terms(self, context_url):
        """Terms whose values are JSON literals: (global set, {type: scoped set})."""
        definitions = self.load_context(context_url).get("@context", {})
        is_json = lambda d: isinstance(d, dict) and d.get("@type") == "@json"
        plain = {t for t, d in definitions.items() if is_json(d)}
        scoped = {}
        for t, d in definitions.items():
            if isinstance(d, dict) and isinstance(d.get("@context"), dict):
                scoped[t] = {s for s, sd in d["@context"].items() if is_json(sd)}
        return plain, scoped

    # -- expansion ---------------------------------------------------------------------------

    def expand(self, document, url, expand_context=None):
        options = {"base": url, "documentLoader": self.document_loader}
        if expand_context:
            options["expandContext"] = expand_context
        try:
            return jsonld.expand(document, options)
        except jsonld.JsonLdError as e:
            raise Failure(f"expansion failed: {describe(e)}")

    def term_iri(self, context, key, node_type, url):
        """The property IRI `key` expands to in a node of `node_type`, or None when dropped."""
        memo = (json.dumps(context), key, node_type, urllib.parse.urlsplit(url)[:2])
        if memo not in self.probes:
            probe = {"@context": context, key: "x"}
            if node_type:
                probe["@type"] = node_type
            out = self.expand(probe, url)
            keys = [k for k in (out[0] if out else {}) if not k.startswith("@")]
            self.probes[memo] = keys[0] if keys else None
        return self.probes[memo]

    # -- the checks --------------------------------------------------------------------------

    def check(self, document, url, context_url, expand_context=None):
        """Checks one body; returns a summary, raises Failure."""
        if not isinstance(document, dict):
            raise Failure(f"the body is a JSON {type(document).__name__}, not an object")
        context = document.get("@context", expand_context)
        if context is None:
            raise Failure("the body has no @context")
        expanded = self.expand(document, url, expand_context)
        if len(expanded) != 1:
            raise Failure(f"expands to {len(expanded)} top-level nodes, expected 1")
        top = expanded[0]

        # Top-level keys: each one present in the expanded node.
        dropped, nulls = [], []
        for key, value in document.items():
            if key == "@context":
                continue
            if key.startswith("@"):
                if key not in top:
                    dropped.append(key)
                continue
            iri = self.term_iri(context, key, document.get("@type"), url)
            if iri is None:
                dropped.append(f"{key} (no term)")
            elif iri in top:
                continue
            elif value is None:
                nulls.append(key)  # (a @json term keeps its null as a literal)
            else:
                dropped.append(f"{key} ({iri})")
        if dropped:
            raise Failure("top-level keys lost in expansion: " + ", ".join(dropped))

        # Every key below, outside JSON literals, expands to an absolute IRI.
        plain_json, scoped_json = self.json_terms(context_url)
        keys = set()

        def walk(value):
            if isinstance(value, list):
                for item in value:
                    walk(item)
            elif isinstance(value, dict):
                node_type = value.get("@type")
                scoped = scoped_json.get(node_type, set()) if isinstance(node_type, str) else set()
                for key, item in value.items():
                    if key.startswith("@"):
                        continue
                    keys.add((key, node_type if scoped else None))
                    if key not in plain_json and key not in scoped:
                        walk(item)

        walk(document)
        unexpanded = []
        for key, node_type in sorted(keys, key=lambda k: (k[0], k[1] or "")):
            iri = self.term_iri(context, key, node_type, url)
            if iri is None or not ABSOLUTE_IRI.match(iri):
                unexpanded.append(f"{key} -> {iri}")
        if unexpanded:
            raise Failure("keys that expand to no absolute IRI: " + ", ".join(unexpanded[:10]))

        # No relative IRI left over: every @id, @type and property is absolute.
        relative = []

        def walk_expanded(value):
            if isinstance(value, list):
                for item in value:
                    walk_expanded(item)
            elif isinstance(value, dict):
                if value.get("@type") == "@json":
                    return  # a JSON literal: its keys are data
                for key, item in value.items():
                    if key == "@id" and not ABSOLUTE_IRI.match(item):
                        relative.append(item)
                    elif key == "@type" and "@value" not in value:
                        relative.extend(t for t in item if not ABSOLUTE_IRI.match(t))
                    elif not key.startswith("@") and not ABSOLUTE_IRI.match(key):
                        relative.append(key)
                    if key != "@value":
                        walk_expanded(item)

        walk_expanded(expanded)
        if relative:
            raise Failure("relative IRIs after expansion: " + ", ".join(relative[:10]))

        summary = f"{len(document) - ('@context' in document)} top-level keys, {len(keys)} keys"
        if nulls:
            summary += "; null, so no value in JSON-LD: " + ", ".join(nulls)
        return summary

    def check_url(self, url):
        """Fetches and checks one URL; returns (ok, line)."""
        shown = url[len(self.base_url):] or "/"
        try:
            status, ctype, body = fetch(url, "application/ld+json", self.timeout)
        except OSError as e:
            return False, f"FAIL {shown}: cannot fetch: {e}"
        head = f"{shown} {status} {ctype.split(';')[0]}"
        try:
            document = json.loads(body)
        except ValueError as e:
            return False, f"FAIL {head}: not JSON: {e}"
        try:
            context_url = urllib.parse.urljoin(url, document.get("@context") or CONTEXT_PATH) \
                if isinstance(document, dict) else url
            return True, f"ok   {head}: " + self.check(document, url, context_url)
        except Failure as e:
            return False, f"FAIL {head}: {e}"

    # -- what to check -----------------------------------------------------------------------

    def crawl(self):
        """"/", every collection and its first item, the singletons, /history, /search, the
        error registry and a 404 problem."""
        urls = [self.base_url + "/"]
        for collection in COLLECTIONS:
            url = f"{self.base_url}/{collection}"
            urls.append(url)
            try:
                _, _, body = fetch(url, "application/ld+json", self.timeout)
                items = json.loads(body).get("items") or []
                if items and isinstance(items[0], dict) and "@id" in items[0]:
                    urls.append(urllib.parse.urljoin(url, items[0]["@id"]))
            except (OSError, ValueError, AttributeError):
                pass  # check_url reports the collection itself
        urls += [f"{self.base_url}{p}" for p in
                 ["/cluster", "/swarm", "/history", "/search?q=e", "/api/errors",
                  "/api/errors/TSK002", "/tasks/jsonld-check-no-such-task"]]
        return urls

    def check_events(self, count, seconds):
        """Reads `count` live events from /events and checks each payload. SSE payloads carry no
        @context (SPEC §8), so they are expanded with the context given as expandContext, the way
        an SSE client applies it."""
        url = self.base_url + "/events"
        context_url = self.base_url + CONTEXT_PATH
        lines, results = [], []
        deadline = time.monotonic() + seconds
        request = urllib.request.Request(url, headers={"Accept": "text/event-stream"})
        try:
            with urllib.request.urlopen(request, timeout=seconds) as stream:
                event, data = "", []
                while len(results) < count and time.monotonic() < deadline:
                    line = stream.readline().decode("utf-8")
                    if not line:
                        break
                    line = line.rstrip("\n")
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].lstrip(" ") if line.startswith("data: ") else line[5:])
                    elif line == "" and data:
                        payload = json.loads("\n".join(data))
                        for item in payload if isinstance(payload, list) else [payload]:
                            if isinstance(item, dict) and "@type" in item:
                                results.append((event, item))
                        event, data = "", []
        except OSError as e:
            if not results:
                return [(False, f"FAIL /events: cannot read the stream: {e}")]
        for event, item in results[:count]:
            head = f"/events event: {event} {item.get('type')} {item.get('action')} {item.get('name')}"
            try:
                lines.append((True, f"ok   {head}: " + self.check(item, url, context_url,
                                                                   expand_context=context_url)))
            except Failure as e:
                lines.append((False, f"FAIL {head}: {e}"))
        if len(results) < count:
            lines.append((False, f"FAIL /events: {len(results)} of {count} events in {seconds} s"))
        return lines


def main():
    parser = argparse.ArgumentParser(
        description="Expand narwhal's JSON-LD bodies with pyld; fail on errors or dropped keys.")
    parser.add_argument("base_url", help="narwhal's URL, base path included "
                                         "(http://127.0.0.1:9123 or https://host/narwhal)")
    parser.add_argument("paths", nargs="*", help="paths to check, e.g. /services /cluster")
    parser.add_argument("--crawl", action="store_true",
                        help="check /, every collection and its first item, /cluster, /swarm, "
                             "/history, /search, /api/errors and a 404 problem")
    parser.add_argument("--context", metavar="FILE",
                        help="serve /api/context.jsonld from FILE instead of the server")
    parser.add_argument("--events", type=int, default=0, metavar="N",
                        help="also check N live events of /events")
    parser.add_argument("--timeout", type=float, default=30, metavar="SECONDS")
    args = parser.parse_args()
    if not args.paths and not args.crawl and not args.events:
        parser.error("give paths, --crawl or --events")

    checker = Checker(args.base_url, args.context, args.timeout)
    urls = checker.crawl() if args.crawl else []
    urls += [checker.base_url + (p if p.startswith("/") else "/" + p) for p in args.paths]
    print(f"context: {args.context or checker.base_url + CONTEXT_PATH}", flush=True)
    results = []
    for url in urls:
        results.append(checker.check_url(url))
        print(results[-1][1], flush=True)
    if args.events:
        for result in checker.check_events(args.events, args.timeout):
            results.append(result)
            print(result[1], flush=True)
    failed = sum(1 for ok, _ in results if not ok)
    print(f"{len(results) - failed} of {len(results)} bodies expand without loss")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

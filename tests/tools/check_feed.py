#!/usr/bin/python3
"""Checks narwhal's Atom feeds the way a feed reader sees them.

Each argument is a feed file or an http(s) URL. Every feed is parsed with feedparser (Debian's
python3-feedparser, hence /usr/bin/python3 rather than whatever python3 is first on PATH); the
script fails when feedparser had to work around anything (`bozo`), when the feed is not Atom 1.0,
or when the feed or one of its entries lacks what a reader needs to show and deduplicate it.

    /usr/bin/python3 tests/tools/check_feed.py /tmp/feeds/*.atom
    /usr/bin/python3 tests/tools/check_feed.py --header 'X-Forwarded-Prefix: /narwhal' \
        http://localhost:8080/services.atom

Exit status: 0 when every feed passes, 1 when one does not, 2 when one could not be read.
"""

import argparse
import sys
import urllib.error
import urllib.request

import feedparser

FEED_FIELDS = ("id", "title", "updated")
ENTRY_FIELDS = ("id", "title", "updated", "link")


def parse_header(text):
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def fetch(url, headers, timeout):
    """The feed's bytes and the response headers feedparser uses (type, charset, base URL)."""
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read()
        info = {k.lower(): v for k, v in response.headers.items()}
        # Relative links resolve against the URL actually served, as in a reader.
        info.setdefault("content-location", response.geturl())
        return body, info


def problems(parsed):
    """Why a reader would be unhappy with this feed; empty when it would not."""
    found = []
    if parsed.bozo:
        found.append(f"bozo: {parsed.get('bozo_exception')!r}")
    if parsed.get("version") != "atom10":
        found.append(f"not an Atom 1.0 feed (feedparser says {parsed.get('version')!r})")
    feed = parsed.feed
    for field in FEED_FIELDS:
        if not feed.get(field):
            found.append(f"feed has no {field}")
    if feed.get("updated") and feed.get("updated_parsed") is None:
        found.append(f"feed updated {feed.get('updated')!r} is not a date")
    for n, entry in enumerate(parsed.entries, 1):
        label = f"entry {n} ({entry.get('id', 'no id')})"
        for field in ENTRY_FIELDS:
            if not entry.get(field):
                found.append(f"{label} has no {field}")
        # Without a link element feedparser copies the id into `link` (guidislink), which
        # would hide a missing link: ask for a real rel="alternate" one.
        if not any(l.get("rel") == "alternate" and l.get("href") for l in entry.get("links", [])):
            found.append(f"{label} has no link rel=\"alternate\"")
        if entry.get("updated") and entry.get("updated_parsed") is None:
            found.append(f"{label} updated {entry.get('updated')!r} is not a date")
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("feeds", nargs="+", help="feed files or http(s) URLs")
    ap.add_argument("--header", action="append", type=parse_header, default=[],
                    metavar="'NAME: VALUE'", help="request header for URLs (repeatable); "
                    "Accept defaults to application/atom+xml")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    args = ap.parse_args()

    headers = dict(args.header)
    if not any(k.lower() == "accept" for k in headers):
        headers["Accept"] = "application/atom+xml"

    status = 0
    for source in args.feeds:
        try:
            if source.startswith(("http://", "https://")):
                body, info = fetch(source, headers, args.timeout)
                parsed = feedparser.parse(body, response_headers=info)
            else:
                with open(source, "rb") as f:
                    parsed = feedparser.parse(f.read())
        except (OSError, urllib.error.URLError) as err:
            print(f"ERROR {source}: {err}", file=sys.stderr)
            status = max(status, 2)
            continue
        found = problems(parsed)
        if found:
            print(f"FAIL {source}:")
            for p in found:
                print(f"  {p}")
            status = max(status, 1)
        else:
            print(f"ok   {source}: {len(parsed.entries)} entries, bozo={int(parsed.bozo)}")
    return status


if __name__ == "__main__":
    sys.exit(main())

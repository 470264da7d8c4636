#!/usr/bin/python3
"""A small `curl` for the stand-in image, enough for compose healthchecks and quick probes.

Options: -f/--fail, -s/--silent, -S/--show-error, -o FILE, -w FORMAT (%{http_code}), -X METHOD,
-H HEADER, -d/--data/--data-raw DATA, -m/--max-time SECS, --connect-timeout SECS, -I; -L, -v, -k, -N (ignored);
short options may be bundled (-fsS). Exit codes as curl's: 0 ok, 2 bad usage, 6 cannot resolve host,
7 cannot connect, 22 HTTP status >= 400 with --fail, 28 timeout.
"""

from __future__ import annotations

import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

WITH_VALUE = {
    "-o": "output",
    "--output": "output",
    "-w": "write_out",
    "--write-out": "write_out",
    "-X": "method",
    "--request": "method",
    "-H": "header",
    "--header": "header",
    "-d": "data",
    "--data": "data",
    "--data-raw": "data",
    "--data-binary": "data",
    "-m": "max_time",
    "--max-time": "max_time",
    "--connect-timeout": "connect_timeout",
    "--retry": "ignored",
}
FLAGS = {
    "-f": "fail",
    "--fail": "fail",
    "-s": "silent",
    "--silent": "silent",
    "-S": "show_error",
    "--show-error": "show_error",
    "-L": "ignored",
    "--location": "ignored",
    "-I": "head",
    "--head": "head",
    "-v": "ignored",
    "--verbose": "ignored",
    "-k": "ignored",
    "--insecure": "ignored",
    "-N": "ignored",
    "--no-buffer": "ignored",
    "--compressed": "ignored",
}


def parse(argv: Sequence[str]) -> tuple[dict[str, str | bool], list[str], list[str], list[str]]:
    """Options, headers, data parts, URLs."""
    opts: dict[str, str | bool] = {}
    headers: list[str] = []
    data: list[str] = []
    urls: list[str] = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg.startswith("--") and "=" in arg:
            arg, value = arg.split("=", 1)
            args.insert(0, value)
        if arg in WITH_VALUE:
            if not args:
                raise SystemExit(f"curl: option {arg}: requires parameter")
            key, value = WITH_VALUE[arg], args.pop(0)
            if key == "header":
                headers.append(value)
            elif key == "data":
                data.append(value)
            else:
                opts[key] = value
        elif arg in FLAGS:
            opts[FLAGS[arg]] = True
        elif arg.startswith("-") and not arg.startswith("--") and len(arg) > 2:
            # Bundled short options: -fsS, -sSo FILE.
            letters = arg[1:]
            for i, letter in enumerate(letters):
                option = "-" + letter
                if option in WITH_VALUE:
                    rest = letters[i + 1 :]
                    if rest:
                        args.insert(0, rest)
                    args.insert(0, option)
                    break
                if option not in FLAGS:
                    raise SystemExit(f"curl: option {option}: is unknown")
                opts[FLAGS[option]] = True
        elif arg.startswith("-"):
            raise SystemExit(f"curl: option {arg}: is unknown")
        else:
            urls.append(arg)
    return opts, headers, data, urls


def main(argv: Sequence[str] | None = None) -> int:
    try:
        opts, headers, data_parts, urls = parse(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    if not urls:
        print("curl: no URL specified", file=sys.stderr)
        return 2
    quiet = bool(opts.get("silent")) and not opts.get("show_error")
    timeout = float(str(opts.get("max_time") or opts.get("connect_timeout") or 30))
    url = urls[0] if "://" in urls[0] else "http://" + urls[0]
    data = "&".join(data_parts).encode() if data_parts else None
    method = str(opts.get("method") or ("HEAD" if opts.get("head") else "POST" if data is not None else "GET"))
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    for header in headers:
        name, _, value = header.partition(":")
        request.add_header(name.strip(), value.strip())
    status, body = 0, b""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            code, text = 28, f"curl: (28) Operation timed out after {int(timeout * 1000)} milliseconds"
        elif isinstance(reason, socket.gaierror):
            code, text = 6, f"curl: (6) Could not resolve host: {request.host}"
        else:
            code, text = 7, f"curl: (7) Failed to connect to {request.host}: {reason}"
        if not quiet:
            print(text, file=sys.stderr)
        return code
    except TimeoutError:
        if not quiet:
            print(f"curl: (28) Operation timed out after {int(timeout * 1000)} milliseconds", file=sys.stderr)
        return 28
    if opts.get("fail") and status >= 400:
        if not quiet:
            print(f"curl: (22) The requested URL returned error: {status}", file=sys.stderr)
        return 22
    output = opts.get("output")
    if output and output != "-":
        with open(str(output), "wb") as fh:
            fh.write(body)
    else:
        sys.stdout.buffer.write(body)
    write_out = opts.get("write_out")
    if write_out:
        sys.stdout.write(str(write_out).replace("%{http_code}", str(status)).replace("\\n", "\n"))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

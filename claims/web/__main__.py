"""``python -m claims.web --workspace DIR [--host H] [--port P]``: what ``claims serve`` runs."""

from __future__ import annotations

import argparse

import uvicorn

from claims import api
from claims.web.app import create_app


def main(argv: list[str] | None = None) -> None:
    """Open the workspace and serve its web app until interrupted."""
    parser = argparse.ArgumentParser(prog="claims serve")
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    ws = api.find_workspace(args.workspace)
    try:
        uvicorn.run(create_app(ws), host=args.host, port=args.port, log_level="warning",
                    server_header=False)
    finally:
        ws.close()


if __name__ == "__main__":
    main()

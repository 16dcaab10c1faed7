"""``python -m claims.web --workspace DIR [--host H] [--port P]``: what ``claims serve`` runs."""

from __future__ import annotations

import argparse
import gc

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
    app = create_app(ws)
    # The modules, templates and settings loaded by now live as long as the server: moved out
    # of the collector's reach, a page that makes many objects (the worklist ranks every
    # account) no longer pays for full collections that walk them all (tens of ms a page).
    gc.collect()
    gc.freeze()
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                    server_header=False)
    finally:
        ws.close()


if __name__ == "__main__":
    main()

"""`edge-profiler serve`: run the agent until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from edge_profiler.litert import RUNTIME_NAMES
from edge_profiler.server import TOKEN_ENV, Config, serve

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Config()
    parser.add_argument("--host", default=defaults.host,
                        help=f"address to bind (default {defaults.host}; any other needs a token)")
    parser.add_argument("--port", type=int, default=defaults.port,
                        help=f"TCP port (default {defaults.port}; 0 = any free)")
    parser.add_argument("--token-file", type=Path,
                        help=f"file holding the bearer token (else ${TOKEN_ENV} is used if set)")
    parser.add_argument("--max-upload-mb", type=float, default=defaults.max_upload_mb, help="largest accepted model")
    parser.add_argument("--queue-size", type=int, default=defaults.queue_size,
                        help="measurements that may wait; more get HTTP 503 with Retry-After")
    parser.add_argument("--cache-mb", type=float, default=defaults.cache_mb,
                        help="memory for cached results and model errors (least recently used dropped first)")
    parser.add_argument("--read-timeout-s", type=float, default=defaults.read_timeout_s,
                        help="a client silent this long mid-request is answered 408 and dropped")
    parser.add_argument("--memory-limit-mb", type=int, default=defaults.memory_limit_mb,
                        help="address-space limit (RLIMIT_AS) of each measurement subprocess")
    parser.add_argument("--timeout-s", type=float, default=defaults.timeout_s,
                        help="wall-clock limit of each measurement subprocess")
    parser.add_argument("--runtime", default="auto", choices=("auto", *RUNTIME_NAMES), help="LiteRT interpreter")
    parser.add_argument("--cooldown-retries", type=int, default=defaults.cooldown_retries,
                        help="re-measure this many times after a throttled measurement, after cooling down")
    parser.add_argument("--cooldown-target-c", type=float, default=defaults.cooldown_target_c,
                        help="temperature to cool down to before re-measuring")


def run(args: argparse.Namespace) -> int:
    config = Config(host=args.host, port=args.port, token_file=args.token_file, max_upload_mb=args.max_upload_mb,
                    queue_size=args.queue_size, cache_mb=args.cache_mb, read_timeout_s=args.read_timeout_s,
                    memory_limit_mb=args.memory_limit_mb, timeout_s=args.timeout_s,
                    runtime=args.runtime, cooldown_retries=args.cooldown_retries,
                    cooldown_target_c=args.cooldown_target_c)
    try:
        return serve(config)
    except (ValueError, OSError, RuntimeError) as exc:
        logger.error("cannot start the agent: %s", exc)
        return 2

"""TNG configurations for the integration tests: seed examples (read from ../shared, with
typed-in copies for clones without it) and small no_ra mapping configs.
"""

import json
import os
from pathlib import Path

from harness import REPO, Failure, log


def shared_dir():
    """The /work/shared folder: env TNG_SHARED_DIR, else the `shared` folder next to the repo."""
    return Path(os.environ.get("TNG_SHARED_DIR") or REPO.parent / "shared")


def seed_launch_config(seed_glob, heading, fallback_text):
    """The --config-content JSON text that a seed document shows right after `heading`.

    Returns (text, source). Uses the seed file when ../shared is present, else fallback_text (a
    typed-in copy). When both exist they must mean the same JSON, so the copy cannot go stale.
    """
    seeds = sorted((shared_dir() / "seeds").glob(seed_glob))
    if not seeds:
        log(f"seed {seed_glob} not found under {shared_dir()}; using the typed-in copy")
        return fallback_text, "typed-in copy"
    doc = seeds[0].read_text(encoding="utf-8")
    at = doc.find(heading)
    if at < 0:
        raise Failure(f"heading {heading!r} not found in {seeds[0]}")
    marker = "--config-content='"
    start = doc.find(marker, at)
    if start < 0:
        raise Failure(f"no {marker} after heading {heading!r} in {seeds[0]}")
    start += len(marker)
    end = doc.find("\n'", start)
    if end < 0:
        raise Failure(f"unterminated --config-content after {heading!r} in {seeds[0]}")
    text = doc[start:end + 1]
    try:
        parsed = json.loads(text)
    except ValueError as e:
        raise Failure(f"seed config after {heading!r} in {seeds[0]} is not JSON: {e}")
    if parsed != json.loads(fallback_text):
        raise Failure(f"the typed-in copy of the seed config differs from {seeds[0]}; update it")
    log(f"seed config taken from {seeds[0]} (matches the typed-in copy)")
    return text, str(seeds[0])


SEED_NO_RA_GLOB = "001_*.txt"
SEED_NO_RA_HEADING = "both tng client and tng server are in non-tee env"
# Typed-in copy of that seed example, used when ../shared is absent (checked equal when present).
SEED_NO_RA_TEXT = """
{
  "add_ingress": [
    {
      "mapping": {
        "in": {
          "port": 10001
        },
        "out": {
          "host": "127.0.0.1",
          "port": 20001
        }
      },
      "no_ra": true
    }
  ],
  "add_egress": [
    {
      "mapping": {
        "in": {
          "host": "127.0.0.1",
          "port": 20001
        },
        "out": {
          "host": "127.0.0.1",
          "port": 30001
        }
      },
      "no_ra": true
    }
  ]
}
"""


def seed_no_ra_config():
    """The seed's "both ... in non-tee env" config text: ingress 10001 -> egress 20001 -> 30001."""
    return seed_launch_config(SEED_NO_RA_GLOB, SEED_NO_RA_HEADING, SEED_NO_RA_TEXT)[0]


def mapping_config(ingress=(), egress=()):
    """A no_ra TNG config: ingress/egress are lists of ((in_host, in_port), (out_host, out_port))."""
    def side(rules):
        return [{"mapping": {"in": {"host": ih, "port": ip}, "out": {"host": oh, "port": op}},
                 "no_ra": True} for (ih, ip), (oh, op) in rules]
    cfg = {}
    if ingress:
        cfg["add_ingress"] = side(ingress)
    if egress:
        cfg["add_egress"] = side(egress)
    return cfg

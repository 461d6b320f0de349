"""Checks on peer.py transfers: the backend's per-connection reports against client results."""

import json
from pathlib import Path

from harness import Deadline, Failure, check


def read_reports(path):
    """The JSON lines a peer server wrote, keyed by connection id."""
    out = {}
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        if line.strip():
            rec = json.loads(line)
            out[rec.get("id")] = rec
    return out


def wait_report(path, conn_id, seconds, server=None):
    """Waits for the peer server's report of one connection."""
    def got():
        if server is not None:
            server.assert_running(f"before reporting connection {conn_id}")
        return read_reports(path).get(conn_id)
    return Deadline(seconds, f"the backend's report of connection {conn_id}").poll(got, 0.05)


def compare_transfer(label, client, server):
    """Checks both directions of one connection byte-exact (counts and sha256 on both ends)."""
    for side, rec in (("client", client), ("backend", server)):
        if rec.get("error"):
            raise Failure(f"{label}: {side} reported an error: {rec['error']}")
    check(client["tx_bytes"] == server["rx_bytes"] and client["tx_sha256"] == server["rx_sha256"],
          f"{label}: client->server {client['tx_bytes']} bytes arrived intact",
          f"client sent {client['tx_bytes']} bytes sha256 {client['tx_sha256'][:16]}…, backend "
          f"received {server['rx_bytes']} bytes sha256 {server['rx_sha256'][:16]}…")
    check(server["tx_bytes"] == client["rx_bytes"] and server["tx_sha256"] == client["rx_sha256"],
          f"{label}: server->client {server['tx_bytes']} bytes arrived intact",
          f"backend sent {server['tx_bytes']} bytes sha256 {server['tx_sha256'][:16]}…, client "
          f"received {client['rx_bytes']} bytes sha256 {client['rx_sha256'][:16]}…")


def client_result(proc, seconds, what):
    """Waits for a peer client to exit and returns its JSON result line."""
    rc = proc.wait(seconds, what)
    lines = [l for l in proc.stdout_text().splitlines() if l.startswith("{")]
    results = [json.loads(l) for l in lines]
    results = [r for r in results if "event" not in r]
    if not results:
        raise Failure(f"{proc.name} exited {rc} without a result; stderr ends:\n{proc.tail()}")
    res = results[-1]
    if rc != 0 or res.get("error"):
        raise Failure(f"{proc.name} failed (exit {rc}): {res.get('error')}; "
                      f"stderr ends:\n{proc.tail()}")
    return res

#!/usr/bin/python3
"""Crash campaign for the durable agent: SIGKILL the worker again and again, then resume, and
count what the systems of record say happened.

Each round starts CASE-1 (four reads, a model call, writes: status, refund, note, memory,
status) in a fresh state folder and kills the worker with SIGKILL, either at an instrumented
point (KEEL_AGENT_FAULT=kill:<before-intent|after-intent|after-effect>:<step>) or after a random
delay (anywhere: inside SQLite, in the model, between syscalls). Then it resumes the case, killing
the resuming worker too in some rounds, until the case completes. After each round the order
system's own ledger must hold each intended effect exactly once and the case must be completed:

  duplicates  = effects applied more than once (must be 0)
  lost        = cases that did not complete, or effects that never happened (must be 0)

Rounds alternate the systems of record: the journal in SQLite or in PostgreSQL (a throwaway
server started here), and an order system that deduplicates by idempotency key or one that does
not (so the journal's outcome checks are what prevents duplicates).

  bench/agent_crash_campaign.py [--kills 1000] [--seed 1] [--no-postgres]

Not part of CI (it takes minutes); the figures go in closing notes.
"""
import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEEL = os.path.join(ROOT, "build", "keel")
SPEC = os.path.join(ROOT, "examples", "durable-agent.yaml")
POINTS = ["before-intent", "after-intent", "after-effect"]
EXPECTED = {"issue_refund": 1, "set_case_status": 2, "add_case_note": 1}


def agent(args, state, journal=None, env=None, timeout=120, kill_after=None):
    argv = [KEEL, "agent"] + args + ["--state-dir", state]
    if journal:
        argv += ["--journal", journal]
    full_env = dict(os.environ, **(env or {}))
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env)
    if kill_after is not None:
        try:
            out, err = p.communicate(timeout=kill_after)
            return p.returncode, out, err, False
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            out, err = p.communicate()
            return p.returncode, out, err, True
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err, p.returncode == -signal.SIGKILL


def ledger(state):
    db = sqlite3.connect(os.path.join(state, "orders.db"))
    counts = dict(db.execute("SELECT action, COUNT(*) FROM ledger WHERE case_id='CASE-1' GROUP BY action"))
    db.close()
    return counts


class Postgres:
    def __init__(self):
        bins = sorted(d for d in os.listdir("/usr/lib/postgresql")) if os.path.isdir("/usr/lib/postgresql") else []
        if not bins:
            raise RuntimeError("PostgreSQL is not installed (tools/setup.sh installs it)")
        self.bin = f"/usr/lib/postgresql/{bins[-1]}/bin"
        self.dir = tempfile.mkdtemp(prefix="keel-crash-pg-")
        self.as_pg = []
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_pg = ["runuser", "-u", "postgres", "--"]
        subprocess.run(self.as_pg + [f"{self.bin}/initdb", "-D", f"{self.dir}/data", "--auth=trust", "-U", "postgres"],
                       check=True, capture_output=True)
        subprocess.run(self.as_pg + [f"{self.bin}/pg_ctl", "-D", f"{self.dir}/data", "-l", f"{self.dir}/log", "-w", "-o",
                                     f"-k {self.dir} -c listen_addresses=''", "start"], check=True, capture_output=True)
        self.n = 0

    def fresh_database(self):
        self.n += 1
        name = f"crash{self.n}"
        subprocess.run(self.as_pg + [f"{self.bin}/createdb", "-h", self.dir, "-U", "postgres", name], check=True,
                       capture_output=True)
        return f"postgresql:///{name}?host={self.dir}&user=postgres"

    def stop(self):
        subprocess.run(self.as_pg + [f"{self.bin}/pg_ctl", "-D", f"{self.dir}/data", "-m", "fast", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-postgres", action="store_true")
    a = ap.parse_args()
    if not os.access(KEEL, os.X_OK):
        sys.exit("build first: tools/setup.sh")
    rng = random.Random(a.seed)
    pg = None if a.no_postgres else Postgres()
    # A template order system per deduplication setting (the agent creates it on first use).
    templates = {}
    work = tempfile.mkdtemp(prefix="keel-crash-")
    for dedupe in (1, 0):
        t = os.path.join(work, f"template-{dedupe}")
        os.makedirs(t)
        agent(["run", SPEC, "--case", "CASE-1", "--max-steps", "0"], t)
        db = sqlite3.connect(os.path.join(t, "orders.db"))
        db.execute("UPDATE config SET value=? WHERE key='dedupe_by_idempotency_key'", (dedupe,))
        db.commit()
        db.close()
        templates[dedupe] = os.path.join(t, "orders.db")
    totals = {"kills": 0, "rounds": 0, "duplicates": 0, "lost": 0, "instrumented": 0, "random": 0}
    by_store = {}
    start = time.time()
    try:
        while totals["kills"] < a.kills:
            r = totals["rounds"]
            journal_kind = "postgresql" if pg and r % 2 == 1 else "sqlite"
            dedupe = (r // 2) % 2
            state = os.path.join(work, f"round-{r}")
            os.makedirs(state)
            shutil.copy(templates[dedupe], os.path.join(state, "orders.db"))
            journal = pg.fresh_database() if journal_kind == "postgresql" else None
            kills_this_round = 0
            args = ["run", SPEC, "--case", "CASE-1", "--json"]
            for attempt in range(20):
                env, kill_after = {}, None
                if attempt < 3 and totals["kills"] < a.kills and rng.random() < 0.9:
                    if rng.random() < 0.5:
                        env = {"KEEL_AGENT_FAULT": f"kill:{rng.choice(POINTS)}:{rng.randrange(12)}"}
                    else:
                        kill_after = rng.uniform(0.005, 0.3)
                code, out, err, killed = agent(args, state, journal, env=env, kill_after=kill_after)
                if killed:
                    kills_this_round += 1
                    totals["kills"] += 1
                    totals["random" if kill_after is not None else "instrumented"] += 1
                    args = ["resume", "CASE-1", "--spec", SPEC, "--json"]
                    continue
                if code == 0:
                    break
                if b"already" in err and args[0] == "run":
                    args = ["resume", "CASE-1", "--spec", SPEC, "--json"]
                    continue
                if b"no case" in err and args[0] == "resume":
                    # Killed before the case was journaled (a loaded machine, an early kill):
                    # nothing to resume, so start it.
                    args = ["run", SPEC, "--case", "CASE-1", "--json"]
                    continue
                if code != 0 and not env and kill_after is None:
                    args = ["resume", "CASE-1", "--spec", SPEC, "--json"]
            status = agent(["status", "CASE-1", "--spec", SPEC, "--json"], state, journal)
            try:
                state_name = json.loads(status[1]).get("state")
            except Exception:
                state_name = None
            counts = ledger(state)
            dup = sum(max(0, counts.get(k, 0) - v) for k, v in EXPECTED.items())
            lost = (0 if state_name == "completed" else 1) + sum(1 for k, v in EXPECTED.items() if counts.get(k, 0) < v)
            totals["duplicates"] += dup
            totals["lost"] += lost
            totals["rounds"] += 1
            key = f"{journal_kind} journal, {'deduplicating' if dedupe else 'non-deduplicating'} order system"
            s = by_store.setdefault(key, {"rounds": 0, "kills": 0, "duplicates": 0, "lost": 0})
            s["rounds"] += 1
            s["kills"] += kills_this_round
            s["duplicates"] += dup
            s["lost"] += lost
            if dup or lost:
                print(f"round {r}: {key}: state {state_name}, ledger {counts} (kept in {state})", file=sys.stderr)
            else:
                shutil.rmtree(state, ignore_errors=True)
            if totals["rounds"] % 50 == 0:
                print(f"[crash-campaign] {totals['kills']}/{a.kills} kills, {totals['rounds']} rounds, "
                      f"{totals['duplicates']} duplicates, {totals['lost']} lost ({time.time() - start:.0f} s)",
                      file=sys.stderr)
    finally:
        if pg:
            pg.stop()
    print(f"{'systems of record':<62} {'rounds':>7} {'kills':>6} {'dupl.':>6} {'lost':>5}")
    for key, s in sorted(by_store.items()):
        print(f"{key:<62} {s['rounds']:>7} {s['kills']:>6} {s['duplicates']:>6} {s['lost']:>5}")
    print(f"{'total':<62} {totals['rounds']:>7} {totals['kills']:>6} {totals['duplicates']:>6} {totals['lost']:>5}")
    print(f"kills at instrumented points {totals['instrumented']}, at random times {totals['random']}; "
          f"{time.time() - start:.0f} s")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if totals["duplicates"] or totals["lost"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""What a regional bridge's ACL costs the national broker per message, by the number of sites in the region.

    python bench/bridge_acl.py [--sites 10,1000,4000] [--messages 20000]

The national broker's ACL names each site of a region on lines of its own (central/bridge.py), and Mosquitto 2.0.11
checks a publish against the user's ACL lines in order. For each size a national broker is configured as
`broker-config --bridge-listen` configures it (TLS bridge listener, bridge.passwd, bridge.acl from
central.bridge.bridge_acl_text) with one region of that many sites; one client logged in as that region's bridge
publishes --messages QoS 1 health-sized messages on the topic of the region's last site (the longest scan), and
the broker's CPU time over the burst is read from /proc. Printed: sites, ACL lines, broker CPU µs per message,
messages/s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import ssl
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402

from bench.fleet import cpu_seconds  # noqa: E402
from bench.fleetsim.brokers import _broker_dir, _start  # noqa: E402
from central import bridge, broker  # noqa: E402
from tests.support.net import free_port, wait_port  # noqa: E402


def measure(sites: int, messages: int) -> dict:
    d = _broker_dir("bridge-acl")
    try:
        files = broker.BrokerFiles(d)
        bridge.regions_dir(files).mkdir()
        ca_pem, ca_key = broker.make_ca(d / "tls")
        cert, key = broker.make_server_cert(d / "tls", ca_pem, ca_key, ["127.0.0.1"])
        site_ids = [f"S-{s:05d}" for s in range(sites)]
        password = broker.new_password()
        region = bridge.define_region(files, "r", site_ids, set(site_ids), password)
        files.write([], broker.hash_password(broker.new_password()))
        port, central_port = free_port(), free_port()
        conf = broker.global_conf_lines()
        for listener in (broker.Listener(central_port, "127.0.0.1", kiosks=False),
                         broker.Listener(port, "127.0.0.1", kiosks=False, bridges=True, cafile=str(ca_pem),
                                         certfile=str(cert), keyfile=str(key))):
            conf += [""] + listener.lines(files)
        national = _start(d / "run", conf, central_port)
        wait_port(port)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=region.bridge_user)
        client.username_pw_set(region.bridge_user, password)
        client.tls_set(ca_certs=str(ca_pem), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.max_inflight_messages_set(100)
        client.max_queued_messages_set(0)
        client.connect("127.0.0.1", port)
        client.loop_start()
        topic = f"{broker.TOPIC_ROOT}/{site_ids[-1]}/k00001/health"
        payload = json.dumps({"pad": "x" * 600}).encode()
        client.publish(topic, payload, qos=1).wait_for_publish(10)
        c0, t0 = cpu_seconds(national.proc.pid), time.monotonic()
        infos = [client.publish(topic, payload, qos=1) for _ in range(messages)]
        for info in infos:
            info.wait_for_publish(60)
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(national.proc.pid) - c0
        client.disconnect()
        client.loop_stop()
        national.stop()
        acl_lines = sum(1 for line in files.bridge_acl_file.read_text().splitlines() if line.startswith("topic "))
        return {"sites": sites, "acl_lines": acl_lines, "messages": messages,
                "broker_us_per_message": round(cpu / messages * 1e6, 1), "messages_per_s": round(messages / elapsed)}
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", default="10,1000,4000")
    ap.add_argument("--messages", type=int, default=20000)
    args = ap.parse_args()
    print(f"{os.cpu_count()} CPUs; {args.messages} QoS 1 messages per size, on the last site's topic")
    print("sites  ACL lines  broker µs/message  messages/s")
    for n in [int(x) for x in args.sites.split(",")]:
        r = measure(n, args.messages)
        print(f"{r['sites']:5d}  {r['acl_lines']:9d}  {r['broker_us_per_message']:17.1f}  {r['messages_per_s']:10d}",
              flush=True)


if __name__ == "__main__":
    main()

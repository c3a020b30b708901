#!/usr/bin/env python3
"""Stand-in for ironlb's bgpd: reads bgpd's TOML config, writes the equivalent BIRD config and
execs BIRD in its place.

It exists to validate the bgpd_* scenarios (their peer-side checks, timings and messages)
before the real daemon runs:  IRONLB_BGPD=interop-tests/tests/standin/bird-as-bgpd.py
cargo test -p interop-tests --test 'bgpd_*'.  Not a test of ironlb itself.
"""
import os
import sys
import tomllib


def main():
    args = sys.argv[1:]
    config_path = args[args.index("--config") + 1]
    with open(config_path, "rb") as f:
        config = tomllib.load(f)
    directory = os.path.dirname(os.path.abspath(config_path))
    g = config["global"]
    lines = [f'router id {g["router_id"]};', "protocol device { scan time 1; }"]
    routes = config.get("routes", [])
    v6_next_hop = next((r["next_hop"] for r in routes
                        if ":" in r["prefix"] and ":" in r.get("next_hop", "")), None)
    for family in ("ipv4", "ipv6"):
        mine = [r for r in routes if (":" in r["prefix"]) == (family == "ipv6")]
        lines.append(f"protocol static origin_{family} {{ {family};")
        for r in mine:
            attrs = [f'bgp_med = {r.get("med", 0)};', f'bgp_local_pref = {r.get("local_pref", 100)};']
            attrs += [f'bgp_community.add(({c.replace(":", ",")}));' for c in r.get("communities", [])]
            attrs += [f'bgp_large_community.add(({c.replace(":", ",")}));'
                      for c in r.get("large_communities", [])]
            lines.append(f'  route {r["prefix"]} blackhole {{ {" ".join(attrs)} }};')
        lines.append("}")
    for i, n in enumerate(config.get("neighbors", [])):
        local = n.get("local_address", "")
        lines.append(f"protocol bgp n{i} {{")
        lines.append(f'  local {local} as {g["asn"]};')
        lines.append(f'  neighbor {n["address"]} port {n.get("port", 179)} as {n["remote_asn"]};')
        hold = n.get("hold_time", 90)
        lines.append(f"  hold time {hold}; keepalive time {max(1, hold // 3)};")
        lines.append("  connect delay time 1; connect retry time 1; error wait time 1, 2;")
        # With graceful restart BIRD closes silently on hold timer expiry (RFC 4724).
        lines.append("  graceful restart off;")
        if n.get("passive"):
            lines.append("  passive on;")
        if "password" in n:
            lines.append(f'  password "{n["password"]}";')
        if n.get("ebgp_multihop", 1) > 1:
            lines.append(f'  multihop {n["ebgp_multihop"]};')
        internal = n["remote_asn"] == g["asn"]
        if internal and n.get("ebgp_multihop", 1) <= 1:
            lines.append("  direct;")
        for family in n.get("families", ["ipv4-unicast"]):
            channel = family.split("-")[0]
            lines.append(f"  {channel} {{ import all; next hop self;")
            lines.append("    export filter { if defined(bgp_med) then bgp_med = bgp_med; accept; };")
            if internal:
                lines.append("    gateway direct;")
            if channel == "ipv6" and ":" not in n["address"] and v6_next_hop:
                lines.append(f"    next hop address {v6_next_hop};")
            lines.append("  };")
        lines.append("}")
    conf = os.path.join(directory, "standin-bird.conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.execvp("bird", ["bird", "-f", "-c", conf, "-s", os.path.join(directory, "standin.ctl"),
                       "-P", os.path.join(directory, "standin.pid")])


if __name__ == "__main__":
    main()

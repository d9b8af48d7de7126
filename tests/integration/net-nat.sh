# Network mode nat (docs/NETWORK.md), against a real kernel: veth pairs,
# nftables, tc. The whole topology lives in namespaces this test makes:
#   host   a fresh network namespace the script re-executes itself in: warren
#          runs here, and it plays the host (its loopback services, a stand-in
#          for warren's API on 8801, its uplink 198.51.100.1)
#   peer   a second namespace behind the uplink playing the internet
#          (198.51.100.2), with the metadata address 169.254.169.254 on it,
#          and a route back to the host so that only warren's rules stop what
#          they must stop
# Nothing is added to the real host's links, routes, addresses or nftables;
# every namespace ends with the test.
if [ -z "${WARREN_NET_TEST_HOST:-}" ]; then
  export WARREN_NET_TEST_HOST=1
  exec unshare --net -- bash "$0" "$@"
fi
source "$WARREN_SRC/tests/lib/tap.sh"
# A small per-tenant connection cap, so that the test can reach it.
export WARREN_NET_MAX_CONNS=24
for tool in ip nft nsenter python3; do
  command -v $tool >/dev/null || { echo "1..0 # SKIP $tool is not installed"; exit 0; }
done

ip link set lo up
# The kernel parts warren needs, tried in this namespace first.
if ! { ip link add wrtest0 type veth peer name wrtest1 && ip link del wrtest0; } 2>/dev/null; then
  echo "1..0 # SKIP this kernel cannot make veth pairs"; exit 0
fi
if ! { nft add table inet probe && nft delete table inet probe; } 2>/dev/null; then
  echo "1..0 # SKIP this kernel has no nf_tables"; exit 0
fi
unshare --net -- sleep infinity &
peer=$!
trap 'kill $peer 2>/dev/null; wait $peer 2>/dev/null' EXIT
for _ in $(seq 100); do
  [ "$(readlink /proc/$peer/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break
  sleep 0.02
done
inpeer() { nsenter --net=/proc/$peer/ns/net -- "$@"; }
ip link add up0 type veth peer name wan0 netns "$peer"
ip addr add 198.51.100.1/24 dev up0
ip link set up0 up
ip route add default via 198.51.100.2
inpeer ip link set lo up
inpeer ip addr add 198.51.100.2/24 dev wan0
inpeer ip addr add 169.254.169.254/32 dev lo
inpeer ip link set wan0 up
inpeer ip route add default via 198.51.100.1
# The peer counts the SYNs that reach its port 8081 (spoofing checks).
inpeer nft -f - <<'EOF'
table inet peer {
	counter syn8081 {}
	chain input {
		type filter hook input priority 0;
		tcp dport 8081 tcp flags & (syn | ack) == syn counter name syn8081
	}
}
EOF
syns() { inpeer nft list counter inet peer syn8081 | awk '/packets/ { print $2 }'; }

# One small tool for both ends: a server (hello: says whom it sees; get N:
# sends N bytes; put N: takes N bytes) and a client that reports as JSON.
tool=$TEST_TMP/nettool.py
cat > "$tool" <<'EOF'
import json, socket, sys, threading, time
def serve(specs):
    def handle(c, peer):
        with c:
            f = c.makefile("rb")
            words = f.readline().split()
            if not words: return
            if words[0] == b"hello":
                c.sendall(("from %s\n" % peer[0]).encode())
            elif words[0] == b"get":
                n, chunk = int(words[1]), b"x" * 65536
                while n > 0:
                    c.sendall(chunk[:min(n, len(chunk))]); n -= min(n, len(chunk))
            elif words[0] == b"hold":
                c.recv(1)
            elif words[0] == b"put":
                n, got = int(words[1]), 0
                while got < n:
                    b = f.read1(65536)
                    if not b: break
                    got += len(b)
                c.sendall(("got %d\n" % got).encode())
    def listen(addr, port):
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, int(port))); s.listen(64)
        while True:
            c, peer = s.accept()
            threading.Thread(target=handle, args=(c, peer), daemon=True).start()
    for spec in specs:
        a, p = spec.rsplit(":", 1)
        threading.Thread(target=listen, args=(a, p), daemon=True).start()
    print("ready", flush=True)
    while True: time.sleep(3600)
def client(op, host, port, n=0, bind=None):
    out = {"ok": False}
    if op == "many":  # n connections held open at once: how many got through
        held = []
        for _ in range(n):
            s = socket.socket(); s.settimeout(0.5)
            try:
                s.connect((host, int(port))); s.sendall(b"hold\n"); held.append(s)
            except OSError:
                s.close()
        out["ok"], out["connected"] = True, len(held)
        print(json.dumps(out)); return
    try:
        s = socket.socket(); s.settimeout(3)
        if bind: s.bind((bind, 0))
        s.connect((host, int(port)))
        if op == "hello":
            s.sendall(b"hello\n"); out["reply"] = s.makefile("rb").readline().decode().strip()
        elif op == "get":
            s.settimeout(60); t = time.monotonic(); s.sendall(b"get %d\n" % n); got = 0
            while got < n:
                b = s.recv(262144)
                if not b: break
                got += len(b)
            out["bytes"], out["seconds"] = got, time.monotonic() - t
        elif op == "put":
            s.settimeout(60); t = time.monotonic(); s.sendall(b"put %d\n" % n)
            chunk, left = b"y" * 65536, n
            while left > 0:
                s.sendall(chunk[:min(left, len(chunk))]); left -= min(left, len(chunk))
            out["reply"] = s.makefile("rb").readline().decode().strip()
            out["bytes"], out["seconds"] = n, time.monotonic() - t
        out["ok"] = True
    except OSError as e:
        out["error"] = e.__class__.__name__ + ": " + str(e)
    print(json.dumps(out))
if sys.argv[1] == "serve": serve(sys.argv[2:])
elif sys.argv[1] == "ifaces": print(json.dumps(sorted(n for _, n in socket.if_nameindex())))
else:
    a = sys.argv[2:]
    bind = a[a.index("--bind") + 1] if "--bind" in a else None
    client(sys.argv[1], a[0], a[1], int(a[2]) if len(a) > 2 and a[2] != "--bind" else 0, bind)
EOF
chmod 0755 "$tool"
servers=()
start_server() { # NS-PREFIX... -- SPECS: starts a server, waits until it listens
  local log; log=$(mktemp)
  "$@" > "$log" 2>&1 &
  servers+=($!)
  for _ in $(seq 100); do grep -q ready "$log" && return 0; sleep 0.05; done
  echo "# server $* did not start: $(cat "$log")"
}
trap 'kill ${servers[*]} $peer 2>/dev/null; wait 2>/dev/null' EXIT
start_server inpeer python3 "$tool" serve 198.51.100.2:8080 198.51.100.2:8081 169.254.169.254:80 198.51.100.2:9000
start_server python3 "$tool" serve 127.0.0.1:7001 0.0.0.0:8801

# Tenants: alice and bob in nat, carol stays in none.
setup() { # id -> $name $uid, tool installed in its sandbox "net"
  local out
  out=$("$WARREN" user create "$1" --json)
  name=$(echo "$out" | json 'd["linux_username"]')
  uid=$(echo "$out" | json 'd["linux_uid"]')
  install -o "$uid" -g "$uid" -m 0755 "$tool" "$("$WARREN" sandbox path "$1" net)/nettool.py"
}
setup alice; alice=$name
setup bob; bob=$name
setup carol
# net WHO ARGS...: the tool in a strong run of WHO; JSON report in $report.
net() {
  local who=$1; shift
  run_warren run "$who" --service net -- python3 ./nettool.py "$@"
  report=$out
  [ "$rc" = 0 ] || echo "# run failed ($rc): $err"
}
r() { printf '%s' "$report" | json "$1"; }

exits "a bad mode is refused" 2 net set alice --mode bridge
like "  and named" "$err" "bridge"
is "  and nothing changed" "$("$WARREN" net get alice --json | json 'd["mode"]')" none
exits "net set needs --mode" 2 net set alice
exits "an unknown tenant" 3 net set nobody --mode nat
exits "  and net get of one" 3 net get nobody

exits "alice becomes nat" 0 net set alice --mode nat --json
a_addr=$(echo "$out" | json 'd["address"]'); a_gw=$(echo "$out" | json 'd["gateway"]')
a_if=$(echo "$out" | json 'd["host_interface"]')
like "  with an address of the range" "$a_addr" '^10\.210\.[0-9]+\.[0-9]+$'
ok "  its host side exists" ip link show "$a_if"
ok "  warren's table is installed" nft list table inet warren
exits "bob becomes nat" 0 net set bob --mode nat --json
b_addr=$(echo "$out" | json 'd["address"]')
ok "  another subnet" test "$b_addr" != "$a_addr"
idx=$(ip -o link show "$a_if" | cut -d: -f1)
exits "nat again" 0 net set alice --mode nat --json
is "  keeps alice's address" "$(echo "$out" | json 'd["address"]')" "$a_addr"
is "  and her pair (same interface)" "$(ip -o link show "$a_if" | cut -d: -f1)" "$idx"

# Out to the internet, masqueraded.
net alice hello 198.51.100.2 8080
is "alice reaches the internet peer" "$(r 'd["ok"]')" True
is "  which sees the host's address, not the tenant's" "$(r 'd.get("reply")')" "from 198.51.100.1"
net alice ifaces
is "  her namespace has lo and eth0" "$report" '["eth0", "lo"]'

# Nothing of the host, link-local, or other tenants.
net alice hello 127.0.0.1 7001
is "the host's loopback service is not hers" "$(r 'd["ok"]')" False
for dst in "$a_gw" 198.51.100.1; do
  net alice hello "$dst" 8801
  is "the host's 8801 (warren's API) through $dst: refused" "$(r 'd["ok"]')" False
done
inpeer python3 "$tool" hello 198.51.100.1 8801 > "$TEST_TMP/ctl"
is "  (control: the peer reaches that 8801)" "$(json 'd["ok"]' < "$TEST_TMP/ctl")" True
net alice hello 169.254.169.254 80
is "the metadata address is unreachable" "$(r 'd["ok"]')" False
inpeer python3 "$tool" hello 169.254.169.254 80 > "$TEST_TMP/ctl"
is "  (control: it serves on the peer)" "$(json 'd["ok"]' < "$TEST_TMP/ctl")" True

# A service in alice's namespace: bob and the internet cannot reach it.
alice_ns=$WARREN_STATE_DIR/netns/$alice
start_server nsenter --net="$alice_ns" -- python3 "$tool" serve 0.0.0.0:7100
net alice hello 127.0.0.1 7100
is "alice's own service answers her" "$(r 'd["ok"]')" True
net bob hello "$a_addr" 7100
is "bob cannot reach alice's address" "$(r 'd["ok"]')" False
inpeer python3 "$tool" hello "$a_addr" 7100 > "$TEST_TMP/ctl"
is "the internet cannot open a connection to alice" "$(json 'd["ok"]' < "$TEST_TMP/ctl")" False

# Spoofing: root in alice's namespace adds addresses and sends from them.
# Without warren's rule these SYNs would reach the peer (which routes back).
inns() { nsenter --net="$alice_ns" -- "$@"; }
inns ip addr add 192.0.2.77/32 dev eth0
inns ip addr add "$b_addr/32" dev eth0
before=$(syns)
inns python3 "$tool" hello 198.51.100.2 8081 --bind 192.0.2.77 > "$TEST_TMP/s1"
inns python3 "$tool" hello 198.51.100.2 8081 --bind "$b_addr" > "$TEST_TMP/s2"
is "a forged source fails" "$(json 'd["ok"]' < "$TEST_TMP/s1") $(json 'd["ok"]' < "$TEST_TMP/s2")" "False False"
is "  and no forged SYN reached the peer" "$(syns)" "$before"
inns python3 "$tool" hello 198.51.100.2 8081 --bind "$a_addr" > "$TEST_TMP/s3"
is "  (control: her own address from the same root process works)" "$(json 'd["ok"]' < "$TEST_TMP/s3")" True
ok "  (and its SYN was counted)" test "$(syns)" -gt "$before"
inns ip addr del 192.0.2.77/32 dev eth0
inns ip addr del "$b_addr/32" dev eth0

# The refusals are warren's table's: without it, the namespace reaches the
# metadata address; the next run puts the table back.
nft delete table inet warren
inns python3 "$tool" hello 169.254.169.254 80 > "$TEST_TMP/ctl"
is "control: without warren's table the metadata address answers" "$(json 'd["ok"]' < "$TEST_TMP/ctl")" True
net alice hello 169.254.169.254 80
is "the next run reinstalls the table first" "$(r 'd["ok"]')" False
ok "  the table is back" nft list table inet warren

# One tenant cannot fill the host's connection tracking table.
net alice many 198.51.100.2 8080 40
# (24 unless a connection of an earlier check is still being torn down)
held=$(r 'd["connected"]')
ok "alice holds at most WARREN_NET_MAX_CONNS connections at once ($held of 40)" test "$held" -le 24 -a "$held" -ge 20
net alice hello 198.51.100.2 8080
is "  and connects again once they are closed" "$(r 'd["ok"]')" True

# A reboot takes namespaces, interfaces and tables, not the registry: the
# first run after it builds the tenant's network again.
umount "$alice_ns"
ip link del "$a_if"
nft delete table inet warren
net alice hello 198.51.100.2 8080
is "after a (simulated) reboot the next run is online again" "$(r 'd.get("reply")')" "from 198.51.100.1"
ok "  in a namespace made anew, with its host side back" ip link show "$a_if"
net alice hello 169.254.169.254 80
is "  and filtered" "$(r 'd["ok"]')" False

# Mode none stays loopback only.
net carol ifaces
is "carol (none) has loopback only" "$report" '["lo"]'
net carol hello 198.51.100.2 8080
is "  and no way out" "$(r 'd["ok"]')" False
is "  net get says none" "$("$WARREN" net get carol --json | json 'd["mode"], d["address"]')" "none None"

# Rate cap: 10mbit each way, measured over 6 MB.
run_warren quota set alice --net-rate 10mbit
if [ "$rc" = 0 ]; then
  is "net get shows the rate" "$("$WARREN" net get alice --json | json 'd["egress_rate"], d["ingress_rate"]')" "10mbit 10mbit"
  ok "  tc has a tbf on each side" sh -c "tc qdisc show dev $a_if | grep -q tbf && nsenter --net=$alice_ns tc qdisc show dev eth0 | grep -q tbf"
  net alice get 198.51.100.2 9000 6000000
  down=$(r 'round(d["bytes"] * 8 / d["seconds"] / 1e6, 2)')
  echo "# download: $(r 'd["bytes"]') bytes in $(r 'round(d["seconds"], 2)') s = $down Mbit/s"
  ok "download within 20% of 10mbit ($down)" python3 -c "import sys; sys.exit(not 8 <= $down <= 12)"
  net alice put 198.51.100.2 9000 6000000
  up=$(r 'round(d["bytes"] * 8 / d["seconds"] / 1e6, 2)')
  echo "# upload: $(r 'd["reply"]') in $(r 'round(d["seconds"], 2)') s = $up Mbit/s"
  ok "upload within 20% of 10mbit ($up)" python3 -c "import sys; sys.exit(not 8 <= $up <= 12)"
  run_warren net get alice --json
  ok "counters: at least 6 MB each way" python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(not (d['bytes_in'] >= 6e6 and d['bytes_out'] >= 6e6))" "$out"
  run_warren stats alice --json
  ok "  warren stats shows them too" python3 -c "import json,sys; d=json.loads(sys.argv[1])['network']; sys.exit(not (d['rx_bytes'] >= 6e6 and d['tx_bytes'] >= 6e6))" "$out"
  run_warren quota set alice --net-rate max
  ok "  'max' lifts the cap" sh -c "! tc qdisc show dev $a_if | grep -q tbf"
elif [[ "$err" == *"not available in this build"* ]]; then
  _tap_result ok "rate cap # SKIP $err"
else
  _tap_result fail "quota set --net-rate 10mbit" "exit $rc: $err"
fi

# Back to none: the pair goes, running runs lose the network at once.
exits "bob back to none" 0 net set bob --mode none
fails "  his host side is gone" ip link show "wrn$(id -u "$bob")"
net bob ifaces
is "  his runs see loopback only" "$report" '["lo"]'
ok "  his address left the ruleset" sh -c "! nft list set inet warren tenant_v4 | grep -qw '$b_addr'"

# Orphans: a stray host side and a settings row of no tenant go at repair.
ip link add wrn99999 type veth peer name wrx99999
sqlite3 "$WARREN_STATE_DIR/registry.db" "insert into tenant_net (saas_user_id, mode, subnet) values ('ghost', 'nat', 1)"
ok "repair runs" "$WARREN" repair
fails "  the stray interface is gone" ip link show wrn99999
is "  the stray row is gone" "$(sqlite3 "$WARREN_STATE_DIR/registry.db" "select count(*) from tenant_net where saas_user_id = 'ghost'")" 0
ok "  alice's pair stays" ip link show "$a_if"

# Delete: the last nat tenant takes warren's table and forwarding with her.
is "forwarding is on while a tenant is nat" "$(cat /proc/sys/net/ipv4/ip_forward)" 1
is "  and, as this host did not forward before, nothing else is forwarded" \
  "$(nft list chain inet warren forward | grep -cxE '\s*drop')" 1
exits "alice deleted" 0 user delete alice
fails "  her host side is gone" ip link show "$a_if"
fails "  warren's table is gone" nft list table inet warren
is "  forwarding is off again, as the host had it" "$(cat /proc/sys/net/ipv4/ip_forward)" 0

done_testing

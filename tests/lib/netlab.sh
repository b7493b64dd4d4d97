# netlab.sh: the three-namespace lab of the live countermeasure tests (source it).
#   attacker NA (198.51.100.7/24 on a0) -- WAN gateway NG LAN -- victim NV (10.0.101.10/24 on v0)
# Sealed: veth pairs between these namespaces only, no link or route to the host's interfaces.

# gw_netlab3 NA NG NV WAN LAN [sealed]: creates the namespaces and links; the gateway's
# interfaces are named WAN and LAN. With "sealed", the victim blackholes the spoofed ranges
# 198.51.100.0/24 and 192.0.2.0/24 (it never answers them). Returns non-zero on failure.
gw_netlab3() {
	local na=$1 ng=$2 nv=$3 wan=$4 lan=$5 n
	ip netns add "$na" && ip netns add "$ng" && ip netns add "$nv" || return 1
	ip link add a0 netns "$na" type veth peer name "$wan" netns "$ng" || return 1
	ip link add v0 netns "$nv" type veth peer name "$lan" netns "$ng" || return 1
	ip -n "$na" addr add 198.51.100.7/24 dev a0 &&
		ip -n "$ng" addr add 198.51.100.1/24 dev "$wan" &&
		ip -n "$ng" addr add 10.0.101.1/24 dev "$lan" &&
		ip -n "$nv" addr add 10.0.101.10/24 dev v0 || return 1
	for n in "$na" "$ng" "$nv"; do ip -n "$n" link set lo up || return 1; done
	ip -n "$na" link set a0 up && ip -n "$ng" link set "$wan" up &&
		ip -n "$ng" link set "$lan" up && ip -n "$nv" link set v0 up || return 1
	ip -n "$na" route add default via 198.51.100.1 &&
		ip -n "$nv" route add default via 10.0.101.1 || return 1
	if [ "${6:-}" = sealed ]; then
		ip -n "$nv" route add blackhole 198.51.100.0/24 &&
			ip -n "$nv" route add blackhole 192.0.2.0/24 || return 1
	fi
	ip netns exec "$ng" sysctl -qw net.ipv4.ip_forward=1
}

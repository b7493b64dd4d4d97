/* vlan_tc.c: tc (cls_bpf, direct action) VLAN tagger for the lab's trunk, as the kernel here has no 8021q module.
 *
 * The lab compiles this once per trunk end with a generated table (-include map.h):
 *   #define TRUNK_IFINDEX n
 *   #define LAB_PORTS X(port_ifindex, outer_vid, inner_vid) ...   (inner_vid 0 = plain 802.1Q)
 * Section "port_in" (ingress of each access port): push the customer's tag(s)
 * (802.1Q VID, or 802.1ad outer + 802.1Q inner) and redirect to the trunk's
 * egress. Section "trunk_in" (ingress of the trunk): pop the tag(s), look the
 * customer up and redirect to its port; unknown or untagged frames are dropped.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#define SEC(name) __attribute__((section(name), used))

static long (*bpf_skb_vlan_push)(struct __sk_buff *skb, __u16 proto_be, __u16 tci) = (void *)BPF_FUNC_skb_vlan_push;
static long (*bpf_skb_vlan_pop)(struct __sk_buff *skb) = (void *)BPF_FUNC_skb_vlan_pop;
static long (*bpf_redirect)(__u32 ifindex, __u64 flags) = (void *)BPF_FUNC_redirect;

#define ETH_P_8021Q_BE  __builtin_bswap16(0x8100)
#define ETH_P_8021AD_BE __builtin_bswap16(0x88a8)

SEC("port_in")
int lab_port_in(struct __sk_buff *skb)
{
	__u32 in = skb->ingress_ifindex;

	if (skb->vlan_present)
		return TC_ACT_SHOT; /* homes send untagged frames only */
#define X(ifx, outer, inner)                                                  \
	if (in == (ifx)) {                                                    \
		if ((inner) == 0) {                                           \
			if (bpf_skb_vlan_push(skb, ETH_P_8021Q_BE, (outer)))  \
				return TC_ACT_SHOT;                           \
		} else {                                                      \
			if (bpf_skb_vlan_push(skb, ETH_P_8021Q_BE, (inner)) || \
			    bpf_skb_vlan_push(skb, ETH_P_8021AD_BE, (outer))) \
				return TC_ACT_SHOT;                           \
		}                                                             \
		return bpf_redirect(TRUNK_IFINDEX, 0);                        \
	}
	LAB_PORTS
#undef X
	return TC_ACT_SHOT;
}

SEC("trunk_in")
int lab_trunk_in(struct __sk_buff *skb)
{
	__u32 outer, inner = 0, proto;

	if (!skb->vlan_present)
		return TC_ACT_SHOT;
	outer = skb->vlan_tci & 0x0fff;
	proto = skb->vlan_proto;
	if (bpf_skb_vlan_pop(skb))
		return TC_ACT_SHOT;
	if (proto == ETH_P_8021AD_BE) {
		/* The pop moved the inner 802.1Q tag into the accelerated slot. */
		if (!skb->vlan_present)
			return TC_ACT_SHOT;
		inner = skb->vlan_tci & 0x0fff;
		if (bpf_skb_vlan_pop(skb))
			return TC_ACT_SHOT;
	} else if (proto != ETH_P_8021Q_BE) {
		return TC_ACT_SHOT;
	}
	if (skb->vlan_present)
		return TC_ACT_SHOT; /* a third tag: not ours */
#define X(ifx, o, i)                                                          \
	if (outer == (o) && inner == (i))                                     \
		return bpf_redirect((ifx), 0);
	LAB_PORTS
#undef X
	return TC_ACT_SHOT;
}

char _license[] SEC("license") = "GPL";

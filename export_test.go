package coord

// SetGossipTransport replaces memberlist's network transport (a
// memberlist.NodeAwareTransport), for tests that count gossip traffic.
func SetGossipTransport(g *GossipConfig, t any) { g.transport = t }

// OpenTCPCluster opens a static ensemble over loopback TCP: see
// openTCPCluster.
var OpenTCPCluster = openTCPCluster

package coord

import "errors"

// startZK starts the ZooKeeper wire server on addr. (Being written.)
func (n *Node) startZK(addr string) error { return errors.New("coord: wire server not built yet") }

// stopZK stops the wire server, if running.
func (n *Node) stopZK() {}

// ClientAddr returns the address the wire server listens on, or "".
func (n *Node) ClientAddr() string { return "" }

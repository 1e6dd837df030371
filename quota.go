package coord

// Quotas: ZooKeeper keeps per-subtree limits under /zookeeper/quota. This
// engine does not enforce them yet; these hooks are where apply consults and
// updates them.

func (t *tree) checkQuota(path string, countDelta, bytesDelta int64) Code { return CodeOK }

func (t *tree) updateQuota(path string, countDelta, bytesDelta int64) {}

package coord

// AnyVersion, passed as the version of SetData, Delete, SetACL, or of a
// DeleteOp, SetDataOp or CheckOp in a Multi, matches whatever version the
// znode has: the operation is unconditional. It is ZooKeeper's -1.
const AnyVersion int32 = -1

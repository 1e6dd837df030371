package raftfsm

import (
	"encoding/json"
	"hash/crc64"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
func jsonMarshal(v any) ([]byte, error)   { return json.Marshal(v) }

// crc64Of is the checksum raft's file snapshot store keeps in meta.json.
func crc64Of(b []byte) []byte {
	h := crc64.New(crc64.MakeTable(crc64.ECMA))
	h.Write(b)
	return h.Sum(nil)
}

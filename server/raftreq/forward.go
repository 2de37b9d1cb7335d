package raftreq

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/metastore/metastore/core"
)

// A LeaseTimeToLive that a follower forwards to the leader (only the leader knows the
// deadlines) travels in the wire format of etcd's LeaseTimeToLiveRequest (ID = 1, keys = 2)
// and LeaseTimeToLiveResponse (ID = 2, TTL = 3, grantedTTL = 4, keys = 5).

func MarshalTTLQuery(id int64, keys bool) []byte {
	b := appendVarintAlways(nil, 1, uint64(id))
	return appendBool(b, 2, keys)
}

func UnmarshalTTLQuery(b []byte) (id int64, keys bool, err error) {
	err = varints(b, func(num protowire.Number, x uint64) {
		switch num {
		case 1:
			id = int64(x)
		case 2:
			keys = x != 0
		}
	})
	return id, keys, err
}

// MarshalTTLAnswer encodes r without its header (the asking member adds its own).
func MarshalTTLAnswer(r *core.LeaseTimeToLiveResponse) []byte {
	b := appendVarint(nil, 2, uint64(r.ID))
	b = appendVarint(b, 3, uint64(r.TTL))
	b = appendVarint(b, 4, uint64(r.GrantedTTL))
	for _, k := range r.Keys {
		b = appendMsg(b, 5, k)
	}
	return b
}

func UnmarshalTTLAnswer(b []byte) (*core.LeaseTimeToLiveResponse, error) {
	r := &core.LeaseTimeToLiveResponse{}
	return r, fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 2 && typ == protowire.VarintType:
			r.ID = int64(x)
		case num == 3 && typ == protowire.VarintType:
			r.TTL = int64(x)
		case num == 4 && typ == protowire.VarintType:
			r.GrantedTTL = int64(x)
		case num == 5 && typ == protowire.BytesType:
			r.Keys = append(r.Keys, v)
		}
		return nil
	})
}

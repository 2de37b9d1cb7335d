package raftreq

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/metastore/metastore/core"
)

// Field numbers of etcd's messages (etcdserverpb/raft_internal.proto, rpc.proto and
// membershippb/membership.proto).
const (
	fHeader          = 100 // InternalRaftRequest
	fPut             = 4
	fDeleteRange     = 5
	fTxn             = 6
	fCompaction      = 7
	fLeaseGrant      = 8
	fLeaseRevoke     = 9
	fAlarm           = 10
	fLeaseCheckpoint = 11
	fMemberAttrSet   = 1301
	fHeaderID        = 1 // RequestHeader
)

// Marshal encodes r for a log entry.
func (r *Request) Marshal() []byte {
	b := make([]byte, 0, r.sizeHint())
	// Fields go in ascending number, as etcd's generated code writes them: the header (100)
	// before the member attributes (1301), after everything else.
	header := func() {
		if r.ID != 0 || r.Username != "" || r.AuthRevision != 0 {
			b = appendNested(b, fHeader, func(b []byte) []byte {
				b = appendVarint(b, fHeaderID, r.ID)
				b = appendBytes(b, 2, []byte(r.Username))
				return appendVarint(b, 3, r.AuthRevision)
			})
		}
	}
	if r.MemberAttrSet != nil || r.Auth != nil {
		header()
	}
	switch {
	case r.Put != nil:
		b = appendNested(b, fPut, func(b []byte) []byte { return appendPut(b, r.Put) })
	case r.DeleteRange != nil:
		b = appendNested(b, fDeleteRange, func(b []byte) []byte { return appendDeleteRange(b, r.DeleteRange) })
	case r.Txn != nil:
		b = appendNested(b, fTxn, func(b []byte) []byte { return appendTxn(b, r.Txn) })
	case r.Compaction != nil:
		b = appendNested(b, fCompaction, func(b []byte) []byte {
			b = appendVarint(b, 1, uint64(r.Compaction.Revision))
			return appendBool(b, 2, r.Compaction.Physical)
		})
	case r.LeaseGrant != nil:
		b = appendNested(b, fLeaseGrant, func(b []byte) []byte {
			b = appendVarint(b, 1, uint64(r.LeaseGrant.TTL))
			return appendVarint(b, 2, uint64(r.LeaseGrant.ID))
		})
	case r.LeaseRevoke != nil:
		b = appendNested(b, fLeaseRevoke, func(b []byte) []byte { return appendVarint(b, 1, uint64(r.LeaseRevoke.ID)) })
	case r.Alarm != nil:
		b = appendNested(b, fAlarm, func(b []byte) []byte {
			b = appendVarint(b, 1, uint64(r.Alarm.Action))
			b = appendVarint(b, 2, r.Alarm.MemberID)
			return appendVarint(b, 3, uint64(r.Alarm.Alarm))
		})
	case r.LeaseCheckpoint != nil:
		b = appendNested(b, fLeaseCheckpoint, func(b []byte) []byte {
			for _, c := range r.LeaseCheckpoint.Checkpoints {
				b = appendNested(b, 1, func(b []byte) []byte {
					b = appendVarint(b, 1, uint64(c.ID))
					return appendVarint(b, 2, uint64(c.RemainingTTL))
				})
			}
			return b
		})
	case r.MemberAttrSet != nil:
		a := r.MemberAttrSet
		b = appendNested(b, fMemberAttrSet, func(b []byte) []byte {
			b = appendVarint(b, 1, a.MemberID)
			return appendNested(b, 2, func(b []byte) []byte {
				b = appendBytes(b, 1, []byte(a.Name))
				for _, u := range a.ClientURLs {
					b = appendMsg(b, 2, []byte(u))
				}
				return b
			})
		})
	case r.Auth != nil:
		b = appendNested(b, protowire.Number(r.Auth.Op), func(b []byte) []byte { return appendAuth(b, r.Auth) })
	}
	if r.MemberAttrSet == nil && r.Auth == nil {
		header()
	}
	return b
}

func appendPut(b []byte, p *core.PutRequest) []byte {
	b = appendBytes(b, 1, p.Key)
	b = appendBytes(b, 2, p.Value)
	b = appendVarint(b, 3, uint64(p.Lease))
	b = appendBool(b, 4, p.PrevKv)
	b = appendBool(b, 5, p.IgnoreValue)
	return appendBool(b, 6, p.IgnoreLease)
}

func appendDeleteRange(b []byte, d *core.DeleteRangeRequest) []byte {
	b = appendBytes(b, 1, d.Key)
	b = appendBytes(b, 2, d.RangeEnd)
	return appendBool(b, 3, d.PrevKv)
}

func appendRange(b []byte, r *core.RangeRequest) []byte {
	b = appendBytes(b, 1, r.Key)
	b = appendBytes(b, 2, r.RangeEnd)
	b = appendVarint(b, 3, uint64(r.Limit))
	b = appendVarint(b, 4, uint64(r.Revision))
	b = appendVarint(b, 5, uint64(r.SortOrder))
	b = appendVarint(b, 6, uint64(r.SortTarget))
	b = appendBool(b, 7, r.Serializable)
	b = appendBool(b, 8, r.KeysOnly)
	b = appendBool(b, 9, r.CountOnly)
	b = appendVarint(b, 10, uint64(r.MinModRevision))
	b = appendVarint(b, 11, uint64(r.MaxModRevision))
	b = appendVarint(b, 12, uint64(r.MinCreateRevision))
	return appendVarint(b, 13, uint64(r.MaxCreateRevision))
}

func appendTxn(b []byte, t *core.TxnRequest) []byte {
	for i := range t.Compare {
		b = appendNested(b, 1, func(b []byte) []byte { return appendCompare(b, &t.Compare[i]) })
	}
	for i := range t.Success {
		b = appendNested(b, 2, func(b []byte) []byte { return appendOp(b, &t.Success[i]) })
	}
	for i := range t.Failure {
		b = appendNested(b, 3, func(b []byte) []byte { return appendOp(b, &t.Failure[i]) })
	}
	return b
}

// appendCompare writes the target_union member that Target reads, a zero number included (a
// oneof member is present at its zero value); the others are not part of the compare.
func appendCompare(b []byte, c *core.Compare) []byte {
	b = appendVarint(b, 1, uint64(c.Result))
	b = appendVarint(b, 2, uint64(c.Target))
	b = appendBytes(b, 3, c.Key)
	switch c.Target {
	case core.CompareVersion:
		b = appendVarintAlways(b, 4, uint64(c.Version))
	case core.CompareCreate:
		b = appendVarintAlways(b, 5, uint64(c.CreateRevision))
	case core.CompareMod:
		b = appendVarintAlways(b, 6, uint64(c.ModRevision))
	case core.CompareValue:
		if c.Value != nil { // etcd's code leaves a nil value out, keeps an empty one
			b = appendMsg(b, 7, c.Value)
		}
	case core.CompareLease:
		b = appendVarintAlways(b, 8, uint64(c.Lease))
	}
	return appendBytes(b, 64, c.RangeEnd)
}

// appendOp writes a txn op; an op with no request set stays an empty message, which the
// core refuses as etcd does.
func appendOp(b []byte, op *core.RequestOp) []byte {
	switch {
	case op.Range != nil:
		b = appendNested(b, 1, func(b []byte) []byte { return appendRange(b, op.Range) })
	case op.Put != nil:
		b = appendNested(b, 2, func(b []byte) []byte { return appendPut(b, op.Put) })
	case op.DeleteRange != nil:
		b = appendNested(b, 3, func(b []byte) []byte { return appendDeleteRange(b, op.DeleteRange) })
	case op.Txn != nil:
		b = appendNested(b, 4, func(b []byte) []byte { return appendTxn(b, op.Txn) })
	}
	return b
}

// proto3: zero scalars are left out.
func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	return appendVarintAlways(b, num, v)
}

func appendVarintAlways(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendBool(b []byte, num protowire.Number, v bool) []byte {
	if !v {
		return b
	}
	return appendVarintAlways(b, num, 1)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	return appendMsg(b, num, v)
}

// appendNested writes field num holding the message that fill appends, in place: one byte
// is kept for its length, and the message moved up if its length needs more. Building the
// message in a buffer of its own and copying it in cost a put six allocations.
func appendNested(b []byte, num protowire.Number, fill func([]byte) []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	at := len(b)
	b = fill(append(b, 0))
	n := len(b) - at - 1
	if w := protowire.SizeVarint(uint64(n)); w > 1 {
		b = append(b, make([]byte, w-1)...)
		copy(b[at+w:], b[at+1:at+1+n])
	}
	protowire.AppendVarint(b[at:at], uint64(n))
	return b
}

// sizeHint is room enough for most requests' encoding: the keys and values of a put and of
// a txn's puts, and some for the rest.
func (r *Request) sizeHint() int {
	n := 64
	if r.Put != nil {
		n += len(r.Put.Key) + len(r.Put.Value)
	}
	if r.Txn != nil {
		for i := range r.Txn.Success {
			if p := r.Txn.Success[i].Put; p != nil {
				n += 16 + len(p.Key) + len(p.Value)
			}
		}
	}
	return n
}

// appendMsg writes a length-delimited field, empty or not.
func appendMsg(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// ErrMalformed is returned for bytes that are not a request.
var ErrMalformed = errors.New("raftreq: malformed request")

// maxDepth bounds nested txns while decoding, far above what the core accepts, so that a
// corrupt entry cannot exhaust the stack.
const maxDepth = 64

// Unmarshal decodes a log entry's request. Fields it does not know are skipped.
func Unmarshal(b []byte) (*Request, error) {
	r := &Request{}
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		var err error
		switch num {
		case fHeader:
			err = fields(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
				switch {
				case num == fHeaderID && typ == protowire.VarintType:
					r.ID = x
				case num == 2 && typ == protowire.BytesType:
					r.Username = string(v)
				case num == 3 && typ == protowire.VarintType:
					r.AuthRevision = x
				}
				return nil
			})
		case fPut:
			r.Put, err = decodePut(v)
		case fDeleteRange:
			r.DeleteRange, err = decodeDeleteRange(v)
		case fTxn:
			r.Txn, err = decodeTxn(v, 0)
		case fCompaction:
			c := &core.CompactionRequest{}
			err = varints(v, func(num protowire.Number, x uint64) {
				switch num {
				case 1:
					c.Revision = int64(x)
				case 2:
					c.Physical = x != 0
				}
			})
			r.Compaction = c
		case fLeaseGrant:
			g := &core.LeaseGrantRequest{}
			err = varints(v, func(num protowire.Number, x uint64) {
				switch num {
				case 1:
					g.TTL = int64(x)
				case 2:
					g.ID = int64(x)
				}
			})
			r.LeaseGrant = g
		case fLeaseRevoke:
			l := &LeaseRevoke{}
			err = varints(v, func(num protowire.Number, x uint64) {
				if num == 1 {
					l.ID = int64(x)
				}
			})
			r.LeaseRevoke = l
		case fAlarm:
			a := &Alarm{}
			err = varints(v, func(num protowire.Number, x uint64) {
				switch num {
				case 1:
					a.Action = AlarmAction(x)
				case 2:
					a.MemberID = x
				case 3:
					a.Alarm = AlarmType(x)
				}
			})
			r.Alarm = a
		case fLeaseCheckpoint:
			cs := &LeaseCheckpoints{}
			err = fields(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				if num != 1 || typ != protowire.BytesType {
					return nil
				}
				var c core.LeaseCheckpoint
				err := varints(v, func(num protowire.Number, x uint64) {
					switch num {
					case 1:
						c.ID = int64(x)
					case 2:
						c.RemainingTTL = int64(x)
					}
				})
				cs.Checkpoints = append(cs.Checkpoints, c)
				return err
			})
			r.LeaseCheckpoint = cs
		case fMemberAttrSet:
			r.MemberAttrSet, err = decodeMemberAttrs(v)
		default:
			if isAuthOp(num) {
				r.Auth, err = decodeAuth(core.AuthOp(num), v)
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func decodePut(b []byte) (*core.PutRequest, error) {
	p := &core.PutRequest{}
	return p, fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			p.Key = v
		case num == 2 && typ == protowire.BytesType:
			p.Value = v
		case num == 3 && typ == protowire.VarintType:
			p.Lease = int64(x)
		case num == 4 && typ == protowire.VarintType:
			p.PrevKv = x != 0
		case num == 5 && typ == protowire.VarintType:
			p.IgnoreValue = x != 0
		case num == 6 && typ == protowire.VarintType:
			p.IgnoreLease = x != 0
		}
		return nil
	})
}

func decodeDeleteRange(b []byte) (*core.DeleteRangeRequest, error) {
	d := &core.DeleteRangeRequest{}
	return d, fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			d.Key = v
		case num == 2 && typ == protowire.BytesType:
			d.RangeEnd = v
		case num == 3 && typ == protowire.VarintType:
			d.PrevKv = x != 0
		}
		return nil
	})
}

func decodeRange(b []byte) (*core.RangeRequest, error) {
	r := &core.RangeRequest{}
	return r, fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		if typ == protowire.BytesType {
			switch num {
			case 1:
				r.Key = v
			case 2:
				r.RangeEnd = v
			}
			return nil
		}
		if typ != protowire.VarintType {
			return nil
		}
		switch num {
		case 3:
			r.Limit = int64(x)
		case 4:
			r.Revision = int64(x)
		case 5:
			r.SortOrder = core.SortOrder(x)
		case 6:
			r.SortTarget = core.SortTarget(x)
		case 7:
			r.Serializable = x != 0
		case 8:
			r.KeysOnly = x != 0
		case 9:
			r.CountOnly = x != 0
		case 10:
			r.MinModRevision = int64(x)
		case 11:
			r.MaxModRevision = int64(x)
		case 12:
			r.MinCreateRevision = int64(x)
		case 13:
			r.MaxCreateRevision = int64(x)
		}
		return nil
	})
}

func decodeTxn(b []byte, depth int) (*core.TxnRequest, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: txns nested deeper than %d", ErrMalformed, maxDepth)
	}
	t := &core.TxnRequest{}
	return t, fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			c, err := decodeCompare(v)
			t.Compare = append(t.Compare, c)
			return err
		case 2, 3:
			op, err := decodeOp(v, depth)
			if num == 2 {
				t.Success = append(t.Success, op)
			} else {
				t.Failure = append(t.Failure, op)
			}
			return err
		}
		return nil
	})
}

func decodeCompare(b []byte) (core.Compare, error) {
	var c core.Compare
	return c, fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		if typ == protowire.BytesType {
			switch num {
			case 3:
				c.Key = v
			case 7:
				c.Value = v
			case 64:
				c.RangeEnd = v
			}
			return nil
		}
		if typ != protowire.VarintType {
			return nil
		}
		switch num {
		case 1:
			c.Result = core.CompareResult(x)
		case 2:
			c.Target = core.CompareTarget(x)
		case 4:
			c.Version = int64(x)
		case 5:
			c.CreateRevision = int64(x)
		case 6:
			c.ModRevision = int64(x)
		case 8:
			c.Lease = int64(x)
		}
		return nil
	})
}

func decodeOp(b []byte, depth int) (core.RequestOp, error) {
	var op core.RequestOp
	return op, fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		// A oneof: the last member on the wire wins, as protobuf decodes it.
		var err error
		switch num {
		case 1:
			op = core.RequestOp{}
			op.Range, err = decodeRange(v)
		case 2:
			op = core.RequestOp{}
			op.Put, err = decodePut(v)
		case 3:
			op = core.RequestOp{}
			op.DeleteRange, err = decodeDeleteRange(v)
		case 4:
			op = core.RequestOp{}
			op.Txn, err = decodeTxn(v, depth+1)
		}
		return err
	})
}

func decodeMemberAttrs(b []byte) (*MemberAttrs, error) {
	m := &MemberAttrs{}
	return m, fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.VarintType:
			m.MemberID = x
		case num == 2 && typ == protowire.BytesType:
			return fields(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				if typ != protowire.BytesType {
					return nil
				}
				switch num {
				case 1:
					m.Name = string(v)
				case 2:
					m.ClientURLs = append(m.ClientURLs, string(v))
				}
				return nil
			})
		}
		return nil
	})
}

// varints calls fn for every varint field of b.
func varints(b []byte, fn func(num protowire.Number, x uint64)) error {
	return fields(b, func(num protowire.Number, typ protowire.Type, _ []byte, x uint64) error {
		if typ == protowire.VarintType {
			fn(num, x)
		}
		return nil
	})
}

// fields walks the fields of one message: fn gets a varint's value in x, a length-delimited
// field's bytes in v (aliasing b); other wire types are skipped.
func fields(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("%w: field %d: %v", ErrMalformed, num, protowire.ParseError(n))
		}
		b = b[n:]
		if typ != protowire.VarintType && typ != protowire.BytesType {
			continue
		}
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

package core

import (
	"bytes"

	"github.com/metastore/metastore/core/kv"
	"github.com/metastore/metastore/core/mvcc"
)

// Txn runs a transaction: every compare (of this txn and of the nested txns on the chosen
// path) is evaluated first against the store as it was when the txn began; then the chosen
// ops are checked against that same view (range revisions, lease existence, ignore_* keys),
// so a failing txn changes nothing; then they run in order, later ops seeing earlier writes.
// All its changes share one revision.
func (s *Store) Txn(r *TxnRequest) (*TxnResponse, error) {
	if err := checkTxn(r, s.cfg.MaxTxnOps); err != nil {
		return nil, err
	}
	if _, _, err := checkIntervals(r.Success); err != nil {
		return nil, err
	}
	if _, _, err := checkIntervals(r.Failure); err != nil {
		return nil, err
	}
	if TxnReadOnly(r) {
		tx := s.kv.Read()
		defer tx.End()
		path := comparePath(tx, r)
		// etcd checks read-only txns too: a range at a negative revision, which a plain
		// Range reads as "current", fails inside a txn once the store is compacted.
		if err := s.checkTxnOps(tx, r, path); err != nil {
			return nil, err
		}
		return execTxn(nil, tx, r, path)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx := s.kv.Write()
	path := comparePath(tx, r)
	if err := s.checkTxnOps(tx, r, path); err != nil {
		tx.End()
		return nil, err
	}
	resp, err := execTxn(tx, tx, r, path)
	if err != nil {
		// An op failed on what earlier ops of the txn did (say, ignore_value on a key a
		// from-key delete just removed, which etcd's duplicate-key check lets through). etcd
		// panics here; we undo the txn and return the error, so it has no effect anywhere.
		tx.Abort()
		return nil, err
	}
	tx.End()
	return resp, nil
}

// TxnReadOnly reports whether no op on any path writes (the server serves such a txn like
// a read, without a proposal).
func TxnReadOnly(r *TxnRequest) bool {
	for _, ops := range [][]RequestOp{r.Success, r.Failure} {
		for i := range ops {
			op := &ops[i]
			if op.Put != nil || op.DeleteRange != nil {
				return false
			}
			if op.Txn != nil && !TxnReadOnly(op.Txn) {
				return false
			}
		}
	}
	return true
}

// comparePath evaluates the compares of r and of the nested txns on the branch taken, in
// the order execTxn walks them: path[0] is r's outcome, then each nested txn's path.
func comparePath(rv mvcc.ReadView, r *TxnRequest) []bool {
	ok := true
	for i := range r.Compare {
		if !applyCompare(rv, &r.Compare[i]) {
			ok = false
			break
		}
	}
	path := []bool{ok}
	for _, op := range branch(r, ok) {
		if op.Txn != nil {
			path = append(path, comparePath(rv, op.Txn)...)
		}
	}
	return path
}

func branch(r *TxnRequest, succeeded bool) []RequestOp {
	if succeeded {
		return r.Success
	}
	return r.Failure
}

// applyCompare holds when every key in the compare's range satisfies it. On no key, a VALUE
// compare fails and the others compare against zero, as in etcd.
func applyCompare(rv mvcc.ReadView, c *Compare) bool {
	rr, err := rv.Range(c.Key, mkGteRange(c.RangeEnd), mvcc.RangeOptions{})
	if err != nil {
		return false
	}
	if len(rr.KVs) == 0 {
		if c.Target == CompareValue {
			return false
		}
		return compareKV(c, &kv.KeyValue{})
	}
	for i := range rr.KVs {
		if !compareKV(c, &rr.KVs[i]) {
			return false
		}
	}
	return true
}

func compareKV(c *Compare, kv *kv.KeyValue) bool {
	var result int
	switch c.Target {
	case CompareValue:
		v := c.Value
		if v == nil {
			v = []byte{}
		}
		result = bytes.Compare(kv.Value, v)
	case CompareCreate:
		result = cmpInt(kv.CreateRevision, c.CreateRevision)
	case CompareMod:
		result = cmpInt(kv.ModRevision, c.ModRevision)
	case CompareVersion:
		result = cmpInt(kv.Version, c.Version)
	case CompareLease:
		result = cmpInt(kv.Lease, c.Lease)
	}
	switch c.Result {
	case CompareEqual:
		return result == 0
	case CompareNotEqual:
		return result != 0
	case CompareGreater:
		return result > 0
	case CompareLess:
		return result < 0
	}
	return true
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// checkTxnOps checks the ops on the chosen path against the starting view, before anything
// is written (etcd's checkTxn). It returns the path left after this txn's nested txns.
func (s *Store) checkTxnOps(rv mvcc.ReadView, r *TxnRequest, path []bool) error {
	_, err := s.checkTxnPath(rv, r, path)
	return err
}

func (s *Store) checkTxnPath(rv mvcc.ReadView, r *TxnRequest, path []bool) ([]bool, error) {
	ops := branch(r, path[0])
	path = path[1:]
	for i := range ops {
		op := &ops[i]
		switch {
		case op.Range != nil:
			if err := checkRangeRev(rv, op.Range); err != nil {
				return nil, err
			}
		case op.Put != nil:
			p := op.Put
			if p.IgnoreValue || p.IgnoreLease {
				rr, err := rv.Range(p.Key, nil, mvcc.RangeOptions{})
				if err != nil {
					return nil, err
				}
				if len(rr.KVs) == 0 {
					return nil, ErrKeyNotFound
				}
			}
			if p.Lease != 0 && !s.lessor.Exists(p.Lease) {
				return nil, ErrLeaseNotFound
			}
		case op.Txn != nil:
			var err error
			if path, err = s.checkTxnPath(rv, op.Txn, path); err != nil {
				return nil, err
			}
		}
	}
	return path, nil
}

func checkRangeRev(rv mvcc.ReadView, r *RangeRequest) error {
	switch {
	case r.Revision == 0:
		return nil
	case r.Revision > rv.Rev():
		return ErrFutureRev
	case r.Revision < rv.CompactRev():
		return ErrCompacted
	}
	return nil
}

// execTxn runs the ops on the path. tw is nil for a read-only txn.
func execTxn(tw mvcc.TxnWrite, rv mvcc.ReadView, r *TxnRequest, path []bool) (*TxnResponse, error) {
	resp, _, err := execTxnPath(tw, rv, r, path)
	if err != nil {
		return nil, err
	}
	resp.Header.Revision = rv.Rev()
	return resp, nil
}

// execTxnPath returns the txn's response and the path left after it. Nested txn responses
// keep a zero header, as etcd's do; range, put and delete responses carry the view revision.
func execTxnPath(tw mvcc.TxnWrite, rv mvcc.ReadView, r *TxnRequest, path []bool) (*TxnResponse, []bool, error) {
	ops := branch(r, path[0])
	resp := &TxnResponse{Succeeded: path[0], Responses: make([]ResponseOp, len(ops))}
	path = path[1:]
	for i := range ops {
		op := &ops[i]
		switch {
		case op.Range != nil:
			rr, err := execRange(rv, op.Range)
			if err != nil {
				return nil, nil, err
			}
			resp.Responses[i].Range = rr
		case op.Put != nil:
			pr, err := execPut(tw, op.Put)
			if err != nil {
				return nil, nil, err
			}
			resp.Responses[i].Put = pr
		case op.DeleteRange != nil:
			dr, err := execDelete(tw, op.DeleteRange)
			if err != nil {
				return nil, nil, err
			}
			resp.Responses[i].DeleteRange = dr
		case op.Txn != nil:
			tr, rest, err := execTxnPath(tw, rv, op.Txn, path)
			if err != nil {
				return nil, nil, err
			}
			path = rest
			resp.Responses[i].Txn = tr
		}
	}
	return resp, path, nil
}

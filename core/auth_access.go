package core

import (
	"github.com/metastore/metastore/core/auth"
)

// AuthInfo is who a request comes from: a user, and the auth revision their credential was
// checked at. The zero value is a request without credentials.
type AuthInfo struct {
	Username string
	Revision uint64
}

// The checks below are etcd's, made where etcd makes them: the server calls them before
// serving a read and, for a write, when it applies the write (with the user and auth
// revision the write was proposed with). With auth disabled they all pass. The server
// validates a request (ValidatePut and the like) before it checks who sent it, so a
// malformed request gets its own error whoever sends it, as in etcd.

// AuthEnabled reports whether auth is on.
func (s *Store) AuthEnabled() bool {
	var on bool
	s.AuthView(func(st *auth.State) { on = st.Enabled })
	return on
}

// AuthRevision is the auth store's revision.
func (s *Store) AuthRevision() uint64 {
	var rev uint64
	s.AuthView(func(st *auth.State) { rev = st.Revision })
	return rev
}

// CheckAuthenticated passes any request with credentials (etcd's requireAuthInfo): lease
// grants, Status, MemberList and the like need no permission, only a user.
func (s *Store) CheckAuthenticated(ai AuthInfo) error {
	var err error
	s.AuthView(func(st *auth.State) {
		if st.Enabled && ai.Revision == 0 {
			err = auth.ErrUserEmpty
		}
	})
	return err
}

// CheckAdmin passes an administrator (a user with role root).
func (s *Store) CheckAdmin(ai AuthInfo) error {
	var err error
	s.AuthView(func(st *auth.State) { err = st.IsAdmin(ai.Username) })
	return err
}

// CheckRange checks a read of [key, end): a Range, or a Watch's creation.
func (s *Store) CheckRange(ai AuthInfo, key, end []byte) error {
	var err error
	s.AuthView(func(st *auth.State) { err = st.Permitted(ai.Username, ai.Revision, key, end, auth.AccessRead) })
	return err
}

// CheckPut checks ai may make a Put: write the key; read it too for
// prev_kv; and write every key already on the lease it attaches (else the user could not
// revoke that lease, so may not attach to it).
func (s *Store) CheckPut(ai AuthInfo, r *PutRequest) error {
	var err error
	s.AuthView(func(st *auth.State) { err = s.putPermitted(st, ai, r) })
	return err
}

func (s *Store) putPermitted(st *auth.State, ai AuthInfo, r *PutRequest) error {
	if err := st.Permitted(ai.Username, ai.Revision, r.Key, nil, auth.AccessWrite); err != nil {
		return err
	}
	if err := s.leasePermitted(st, ai, r.Lease); err != nil {
		return err
	}
	if r.PrevKv {
		return st.Permitted(ai.Username, ai.Revision, r.Key, nil, auth.AccessRead)
	}
	return nil
}

// leasePermitted is etcd's checkLeasePuts: an administrator, or a writer of every key the
// lease holds (an unknown lease holds none).
func (s *Store) leasePermitted(st *auth.State, ai AuthInfo, id int64) error {
	if id == 0 || !st.Enabled || st.IsAdmin(ai.Username) == nil {
		return nil
	}
	keys, err := s.lessor.Keys(id)
	if err != nil {
		return nil
	}
	for _, k := range keys {
		if err := st.Permitted(ai.Username, ai.Revision, k, nil, auth.AccessWrite); err != nil {
			return err
		}
	}
	return nil
}

// CheckLease checks ai may revoke or keep alive a lease.
func (s *Store) CheckLease(ai AuthInfo, id int64) error {
	var err error
	s.AuthView(func(st *auth.State) { err = s.leasePermitted(st, ai, id) })
	return err
}

// CheckLeaseKeepAlive is etcd's keep-alive check: credentials, then CheckLease.
func (s *Store) CheckLeaseKeepAlive(ai AuthInfo, id int64) error {
	if err := s.CheckAuthenticated(ai); err != nil {
		return err
	}
	return s.CheckLease(ai, id)
}

// CheckLeaseRead checks ai may query leases and see the keys of the given ones
// (LeaseTimeToLive with keys, LeaseLeases): credentials, then an administrator or a reader
// of every key.
func (s *Store) CheckLeaseRead(ai AuthInfo, ids ...int64) error {
	var err error
	s.AuthView(func(st *auth.State) {
		switch {
		case !st.Enabled:
			return
		case ai.Revision == 0:
			err = auth.ErrUserEmpty
			return
		case st.IsAdmin(ai.Username) == nil:
			return
		}
		for _, id := range ids {
			keys, kerr := s.lessor.Keys(id)
			if kerr != nil {
				continue
			}
			for _, k := range keys {
				if err = st.Permitted(ai.Username, ai.Revision, k, nil, auth.AccessRead); err != nil {
					return
				}
			}
		}
	})
	return err
}

// CheckDeleteRange checks ai may make a DeleteRange: write the range, and
// read it too for prev_kv.
func (s *Store) CheckDeleteRange(ai AuthInfo, r *DeleteRangeRequest) error {
	var err error
	s.AuthView(func(st *auth.State) { err = deletePermitted(st, ai, r) })
	return err
}

func deletePermitted(st *auth.State, ai AuthInfo, r *DeleteRangeRequest) error {
	if err := st.Permitted(ai.Username, ai.Revision, r.Key, r.RangeEnd, auth.AccessWrite); err != nil {
		return err
	}
	if r.PrevKv {
		return st.Permitted(ai.Username, ai.Revision, r.Key, r.RangeEnd, auth.AccessRead)
	}
	return nil
}

// CheckTxn checks ai may make every part of a txn: read each compare's
// range, and every op of both branches, nested txns too (whichever branch would run).
func (s *Store) CheckTxn(ai AuthInfo, r *TxnRequest) error {
	var err error
	s.AuthView(func(st *auth.State) {
		if st.Enabled {
			err = s.txnPermitted(st, ai, r)
		}
	})
	return err
}

func (s *Store) txnPermitted(st *auth.State, ai AuthInfo, r *TxnRequest) error {
	for _, c := range r.Compare {
		if err := st.Permitted(ai.Username, ai.Revision, c.Key, c.RangeEnd, auth.AccessRead); err != nil {
			return err
		}
	}
	for _, ops := range [][]RequestOp{r.Success, r.Failure} {
		for _, op := range ops {
			var err error
			switch {
			case op.Range != nil:
				err = st.Permitted(ai.Username, ai.Revision, op.Range.Key, op.Range.RangeEnd, auth.AccessRead)
			case op.Put != nil:
				err = s.putPermitted(st, ai, op.Put)
			case op.DeleteRange != nil:
				// etcd checks the read for prev_kv first here, the write first outside a txn.
				if op.DeleteRange.PrevKv {
					err = st.Permitted(ai.Username, ai.Revision, op.DeleteRange.Key, op.DeleteRange.RangeEnd, auth.AccessRead)
				}
				if err == nil {
					err = st.Permitted(ai.Username, ai.Revision, op.DeleteRange.Key, op.DeleteRange.RangeEnd, auth.AccessWrite)
				}
			case op.Txn != nil:
				err = s.txnPermitted(st, ai, op.Txn)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// Validate* check a request's shape as etcd's gRPC layer does, before anything else.
func ValidateRange(r *RangeRequest) error             { return checkRange(r) }
func ValidatePut(r *PutRequest) error                 { return checkPut(r) }
func ValidateDeleteRange(r *DeleteRangeRequest) error { return checkDelete(r) }
func (s *Store) ValidateTxn(r *TxnRequest) error      { return checkTxn(r, s.cfg.MaxTxnOps) }

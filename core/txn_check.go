package core

// checkTxn validates a txn's shape as etcd's gRPC layer does (checkTxnRequest): op count,
// empty keys, empty ops, and each op's own rules. Nested txns get the remaining op budget.
func checkTxn(r *TxnRequest, maxOps int) error {
	opc := max(len(r.Compare), len(r.Success), len(r.Failure))
	if opc > maxOps {
		return ErrTooManyOps
	}
	for i := range r.Compare {
		if len(r.Compare[i].Key) == 0 {
			return ErrEmptyKey
		}
	}
	for _, ops := range [][]RequestOp{r.Success, r.Failure} {
		for i := range ops {
			if err := checkOp(&ops[i], maxOps-opc); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkOp(op *RequestOp, maxOps int) error {
	switch {
	case op.Range != nil:
		return checkRange(op.Range)
	case op.Put != nil:
		return checkPut(op.Put)
	case op.DeleteRange != nil:
		return checkDelete(op.DeleteRange)
	case op.Txn != nil:
		return checkTxn(op.Txn, maxOps)
	}
	return ErrKeyNotFound
}

// interval is a half-open key interval [begin, end) under etcd's "affine" string order, in
// which an empty end is +infinity. A point k is [k, k+"\x00").
type interval struct{ begin, end string }

func point(k []byte) interval { return interval{string(k), string(k) + "\x00"} }

func affineLess(a, b string) bool {
	switch {
	case len(a) == 0:
		return false
	case len(b) == 0:
		return true
	}
	return a < b
}

// overlaps reports whether two intervals share a key, as etcd's interval tree decides it.
func (a interval) overlaps(b interval) bool {
	return affineLess(a.begin, b.end) && affineLess(b.begin, a.end)
}

type intervals []interval

func (s intervals) intersects(iv interval) bool {
	for _, x := range s {
		if x.overlaps(iv) {
			return true
		}
	}
	return false
}

// checkIntervals finds writes in one txn branch that collide, with etcd's rules
// (checkIntervals in v3rpc/key.go): two puts of one key at one level; a put inside a delete
// range of its level or of a nested txn seen before it. Deletes may overlap each other, and
// the two branches of one nested txn may put the same key. It returns the branch's puts and
// deletes, for the enclosing level.
func checkIntervals(ops []RequestOp) (map[string]struct{}, intervals, error) {
	var dels intervals
	for i := range ops {
		d := ops[i].DeleteRange
		if d == nil {
			continue
		}
		if len(d.RangeEnd) != 0 {
			dels = append(dels, interval{string(d.Key), string(d.RangeEnd)})
		} else {
			dels = append(dels, point(d.Key))
		}
	}
	puts := map[string]struct{}{}
	for i := range ops {
		t := ops[i].Txn
		if t == nil {
			continue
		}
		putsThen, delsThen, err := checkIntervals(t.Success)
		if err != nil {
			return nil, dels, err
		}
		putsElse, delsElse, err := checkIntervals(t.Failure)
		if err != nil {
			return nil, dels, err
		}
		for k := range putsThen {
			if _, ok := puts[k]; ok {
				return nil, dels, ErrDuplicateKey
			}
			if dels.intersects(point([]byte(k))) {
				return nil, dels, ErrDuplicateKey
			}
			puts[k] = struct{}{}
		}
		for k := range putsElse {
			if _, ok := puts[k]; ok {
				if _, safe := putsThen[k]; !safe {
					return nil, dels, ErrDuplicateKey
				}
			}
			if dels.intersects(point([]byte(k))) {
				return nil, dels, ErrDuplicateKey
			}
			puts[k] = struct{}{}
		}
		dels = append(dels, delsThen...)
		dels = append(dels, delsElse...)
	}
	for i := range ops {
		p := ops[i].Put
		if p == nil {
			continue
		}
		k := string(p.Key)
		if _, ok := puts[k]; ok {
			return nil, dels, ErrDuplicateKey
		}
		if dels.intersects(point(p.Key)) {
			return nil, dels, ErrDuplicateKey
		}
		puts[k] = struct{}{}
	}
	return puts, dels, nil
}

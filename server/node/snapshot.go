package node

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/metastore/metastore/core"
)

// A Raft snapshot's data is the member's replicated state: the alarms, then the core.
//
//	"MSN1" | alarm count | (member ID, alarm type) each, uvarints | core snapshot
var snapMagic = []byte("MSN1")

// encodeSnapshot writes the alarms and then the captured core state.
func encodeSnapshot(w io.Writer, al []*pb.AlarmMember, sn *core.Snapshot) error {
	b := append([]byte(nil), snapMagic...)
	b = binary.AppendUvarint(b, uint64(len(al)))
	for _, a := range al {
		b = binary.AppendUvarint(b, a.MemberID)
		b = binary.AppendUvarint(b, uint64(a.Alarm))
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	return sn.Encode(w)
}

// decodeSnapshot restores the alarms and the core from a Raft snapshot's data.
func decodeSnapshot(data io.Reader, cfg core.Config) ([]*pb.AlarmRequest, *core.Store, error) {
	r := bufio.NewReader(data)
	magic := make([]byte, len(snapMagic))
	if _, err := io.ReadFull(r, magic); err != nil || !bytes.Equal(magic, snapMagic) {
		return nil, nil, errors.New("not a MetaStore member snapshot")
	}
	n, err := binary.ReadUvarint(r)
	if err != nil || n > 1<<20 {
		return nil, nil, fmt.Errorf("bad alarm count")
	}
	var al []*pb.AlarmRequest
	for i := uint64(0); i < n; i++ {
		m, err1 := binary.ReadUvarint(r)
		t, err2 := binary.ReadUvarint(r)
		if err1 != nil || err2 != nil {
			return nil, nil, fmt.Errorf("bad alarm %d", i)
		}
		al = append(al, &pb.AlarmRequest{Action: pb.AlarmRequest_ACTIVATE, MemberID: m, Alarm: pb.AlarmType(t)})
	}
	s, err := core.Restore(r, cfg)
	return al, s, err
}

package node

import "testing"

// TestPreparedSetCloseWaitsForReceivers: the member's Stop (preparedSet.close) returns only
// once every receive under way has ended, and refuses new ones from the moment it begins.
func TestPreparedSetCloseWaitsForReceivers(t *testing.T) {
	var ps preparedSet
	if !ps.begin() {
		t.Fatal("a receive refused before the set closed")
	}
	done := make(chan struct{})
	go func() { ps.close(); close(done) }()
	for ps.begin() { // until close has begun: then it waits for the receive under way
		ps.receivers.Done()
	}
	select {
	case <-done:
		t.Fatal("close returned while a receive was under way")
	default:
	}
	ps.receivers.Done()
	<-done
}

package node

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/server/raftreq"
)

// AutoCompaction is etcd's automatic compaction (--auto-compaction-mode/-retention).
type AutoCompaction struct {
	// Mode is "periodic" (keep Period of history) or "revision" (keep Revisions revisions).
	Mode      string
	Period    time.Duration
	Revisions int64
}

// ParseAutoCompaction reads etcd's flags: in periodic mode the retention is a duration
// ("90m") or a number of hours ("2"); in revision mode a number of revisions. A zero
// retention turns it off (nil).
func ParseAutoCompaction(mode, retention string) (*AutoCompaction, error) {
	switch mode {
	case "periodic":
		d, err := time.ParseDuration(retention)
		if err != nil {
			h, herr := strconv.ParseInt(retention, 10, 64)
			if herr != nil || h < 0 {
				return nil, fmt.Errorf("--auto-compaction-retention %q: want a duration or a number of hours", retention)
			}
			d = time.Duration(h) * time.Hour
		}
		if d < 0 {
			return nil, fmt.Errorf("--auto-compaction-retention %q is negative", retention)
		}
		if d == 0 {
			return nil, nil
		}
		return &AutoCompaction{Mode: mode, Period: d}, nil
	case "revision":
		n, err := strconv.ParseInt(retention, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("--auto-compaction-retention %q: want a number of revisions", retention)
		}
		if n == 0 {
			return nil, nil
		}
		return &AutoCompaction{Mode: mode, Revisions: n}, nil
	}
	return nil, fmt.Errorf("--auto-compaction-mode %q: want 'periodic' or 'revision'", mode)
}

// revisionCheckInterval is how often revision mode looks, as in etcd.
const revisionCheckInterval = 5 * time.Minute

// autoCompact runs on the leader: like etcd's v3compactor, periodic mode samples the
// revision every tenth of the period (at most every 6 minutes) and, once a period has
// passed, compacts every min(period, 1h) to the revision seen one period ago; revision mode
// compacts every 5 minutes to the current revision minus the retention.
func (n *Node) autoCompact(ac *AutoCompaction) {
	tick := revisionCheckInterval
	if ac.Mode == "periodic" {
		tick = min(ac.Period, time.Hour) / 10
	}
	clk := n.cfg.Clock
	t := clk.NewTicker(tick)
	defer t.Stop()
	start := clk.Now()
	var samples []int64 // periodic: revisions seen, one per tick, oldest first
	keep := 1
	if ac.Mode == "periodic" {
		keep = int(ac.Period/tick) + 1
	}
	lastCompact, lastRun := int64(0), clk.Now()
	for {
		select {
		case <-n.stopc:
			return
		case <-t.C():
		}
		var rev int64
		if ac.Mode == "periodic" {
			samples = append(samples, n.Store().Rev())
			if len(samples) > keep {
				samples = samples[1:]
			}
			if clk.Now().Sub(start) < ac.Period || clk.Now().Sub(lastRun) < min(ac.Period, time.Hour) {
				continue
			}
			rev = samples[0]
		} else {
			rev = n.Store().Rev() - ac.Revisions
		}
		if rev <= 0 || rev <= lastCompact || !n.IsLeader() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := n.propose(ctx, &raftreq.Request{Compaction: &core.CompactionRequest{Revision: rev}})
		cancel()
		switch {
		case err == nil:
			n.log.Info("auto compaction", "revision", rev, "mode", ac.Mode)
			lastCompact, lastRun = rev, clk.Now()
		case errors.Is(err, core.ErrCompacted):
			lastCompact, lastRun = rev, clk.Now()
		default:
			n.log.Warn("auto compaction failed", "revision", rev, "error", err)
		}
	}
}

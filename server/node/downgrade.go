package node

import (
	"context"

	"github.com/coreos/go-semver/semver"
	"go.etcd.io/etcd/api/v3/version"
)

// DowngradeAction is what a Downgrade request asks (etcdserverpb.DowngradeRequest_DowngradeAction's
// values).
type DowngradeAction int32

const (
	DowngradeValidate DowngradeAction = 0
	DowngradeEnable   DowngradeAction = 1
	DowngradeCancel   DowngradeAction = 2
)

// ClusterVersion is the cluster version the members run at, as etcd's /version and Downgrade
// report it.
const ClusterVersion = "3.6.0"

// Downgrade answers etcd's Maintenance.Downgrade for a cluster that has no older version to
// run at. etcd 3.6 lowers its cluster version to the previous minor so that members can be
// replaced by that release's binaries; a MetaStore member has no earlier release that reads
// its data, so every target is refused, with the error etcd gives a target it does not
// allow, once the version has passed etcd's format check. A cancel, with no downgrade ever
// in progress, answers as etcd's does then: the cluster version ("3.6"), no error. Both read
// linearizably first, as etcd does.
func (n *Node) Downgrade(ctx context.Context, action DowngradeAction, target string) (clusterVersion string, err error) {
	switch action {
	case DowngradeValidate, DowngradeEnable:
		if err := checkDowngradeTarget(target); err != nil {
			return "", err
		}
		if err := n.LinearizableRead(ctx); err != nil {
			return "", err
		}
		return "", ErrInvalidDowngradeTargetVersion
	case DowngradeCancel:
		if err := n.LinearizableRead(ctx); err != nil {
			return "", err
		}
		return version.Cluster(ClusterVersion), nil
	}
	return "", ErrUnknownMethod
}

// checkDowngradeTarget is etcd's convertToClusterVersion's check: a semantic version, or
// MAJOR.MINOR.
func checkDowngradeTarget(v string) error {
	if _, err := semver.NewVersion(v); err == nil {
		return nil
	}
	if _, err := semver.NewVersion(v + ".0"); err == nil {
		return nil
	}
	return ErrWrongDowngradeVersionFormat
}

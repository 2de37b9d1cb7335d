//go:build js

package node

import (
	"errors"

	"github.com/metastore/metastore/core/clock"
)

// newJWTTokens: members in a browser tab sign no tokens (the tab checks each call's user
// itself), and JWT's keys would bring crypto/x509, RSA and ECDSA into the module.
func newJWTTokens(map[string]string, clock.Clock) (tokenProvider, error) {
	return nil, errors.New("auth: jwt tokens are not available in a browser tab")
}

//go:build !js

package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/metastore/metastore/grpcweb"
	"github.com/metastore/metastore/internal/syncbuf"
	"github.com/metastore/metastore/internal/testserver"
	"github.com/metastore/metastore/server/node"
)

// The playground's console is etcdctl reimplemented in TypeScript. These tests type the same
// script into the console and run it through the real etcdctl (v3.6.16, pinned in go.mod), each
// against a fresh store, and compare what they print, line by line.

var (
	etcdctlOnce sync.Once
	etcdctlBin  string
	etcdctlErr  error
)

func etcdctl(t *testing.T) string {
	t.Helper()
	etcdctlOnce.Do(func() {
		dir, err := os.MkdirTemp("", "metastore-etcdctl")
		if err != nil {
			etcdctlErr = err
			return
		}
		etcdctlBin = filepath.Join(dir, "etcdctl")
		if out, err := exec.Command("go", "build", "-o", etcdctlBin, "go.etcd.io/etcd/etcdctl/v3").CombinedOutput(); err != nil {
			etcdctlErr = fmt.Errorf("build etcdctl: %v\n%s", err, out)
		}
	})
	if etcdctlErr != nil {
		t.Fatal(etcdctlErr)
	}
	return etcdctlBin
}

// step is one command: a console line, and for txn the lines that follow it (etcdctl reads
// them from stdin; the console prompts for them). errorOnly compares only the "Error:" lines:
// etcdctl also prints its whole usage text for a bad flag, which the console leaves to help.
// usage compares help only up to its GLOBAL OPTIONS (the console lists only the global flags
// that act in it); head compares only the first head lines. watch is for a command that runs
// until interrupted (watch, keep-alive) or that ends by itself (a canceled watch): each side
// is interrupted (etcdctl killed, the console given Ctrl+C) once what it printed matches until
// (a regexp for the step's last line, the same for both) or it ended, and what each printed
// by then is compared (for a watch, the history replayed from --rev). A watch step with no
// until prints nothing: each side then runs for watchFor before it is interrupted (nothing
// happening can only be seen by waiting).
//
// etcdctl, when set, is the line etcdctl runs instead, with stdin as its standard input: for
// what etcdctl asks for and the console takes on its command line (user passwd's password).
//
// sorted compares the lines sorted: for what etcdctl prints in an order that is not the
// same twice (endpoint health --cluster lists the members as they answer).
//
// Not compared, because the console deliberately differs: etcdctl's stdin (put's value, txn -i
// and watch -i, which print their prompts; the console has no stdin and shows txn's prompts
// as its own), etcdctl's password prompts (the console cannot ask: user add NAME and --user
// NAME without a password fail at once), watch's exec (watch key -- cmd), -w protobuf (raw
// bytes, not text), an unknown txn operator (value("a") == "1": clientv3.Compare panics, the
// console says why), the connection flags' effects (--command-timeout and the like are
// checked, then ignored), and the commands the console lacks (alarm...: it says so). Here,
// the membership commands only up to the call (the tab is no cluster member): on a cluster,
// with --endpoints and --cluster, in TestConsoleLikeEtcdctlCluster.
type step struct {
	line      string
	input     []string
	etcdctl   string
	stdin     string
	errorOnly bool
	usage     bool
	head      int
	watch     bool
	until     string
	sorted    bool
}

const (
	// How long a watch step that should print nothing runs before it is interrupted.
	watchFor = 1500 * time.Millisecond
	// How long a watch step may take to print its until.
	untilTimeout = patience
)

var script = []step{
	{line: "put a 1"},
	{line: "put b 2 --prev-kv"},
	{line: "put a 3 --prev-kv"},
	{line: "put c '{\"x\": 1}'"},
	{line: "get a"},
	{line: "get a -w json"},
	{line: "get '' --prefix"},
	{line: "get a c"},
	{line: "get a --from-key --keys-only"},
	{line: "get '' --from-key --limit=1 -w json"},
	{line: "get '' --prefix --sort-by=VALUE --order=DESCEND"},
	{line: "get '' --prefix --sort-by=MODIFY --order=ASCEND --limit 2"},
	{line: "get a --print-value-only"},
	{line: "get '' --prefix --count-only -w json"},
	{line: "get a --rev=1"},
	{line: "get a --rev=100"},
	{line: "get"},
	{line: "put"},
	{line: "put a b c"},
	{line: "del b --prev-kv"},
	{line: "del zzz"},
	{line: "del a c -w json"},
	{line: "put a 5"},
	{line: "txn", input: []string{`value("a") = "5"`, "", "put a 6", "get a", "", "get b", ""}},
	{line: "txn", input: []string{`mod("a") > "100"`, `create("b") = "0"`, "", "put a 7", "", "get a", "del a", ""}},
	{line: "txn -w json", input: []string{`version("a") = "0"`, "", "", "put z 1", ""}},
	// HashKV before any lease: the keys' lease IDs, random on each side, would be hashed.
	{line: "endpoint hashkv"},
	{line: "endpoint hashkv --rev=3 -w json"},
	{line: "endpoint hashkv -w fields"},
	{line: "endpoint hashkv --rev=1000"},
	// Leases with keys get TTLs far longer than a slow run: one expiring on one side only
	// would delete its keys there and shift every later revision.
	{line: "lease grant 3600"},
	{line: "put l v --lease=$LEASE"},
	{line: "lease timetolive $LEASE --keys"},
	{line: "lease list"},
	{line: "lease list -w json"},
	{line: "lease list -w fields"},
	{line: "lease keep-alive --once $LEASE"},
	{line: "lease revoke $LEASE"},
	{line: "lease timetolive $LEASE"},
	{line: "lease revoke $LEASE"},
	{line: "get l"},
	{line: "compaction 3"},
	{line: "endpoint hashkv --rev=2"},
	{line: "get a --rev=2"},
	{line: "compaction 2"},
	{line: "get z -w json"},
	{line: "foo"},
	{line: "get a --bogus", errorOnly: true},

	// -w fields, --hex, the other get flags.
	{line: "put f1 x -w fields"},
	{line: "put f1 y --prev-kv -w fields"},
	{line: "put f2 z"},
	{line: "get f --prefix -w fields"},
	{line: "get f1 -w fields --hex"},
	{line: "get f --prefix --count-only -w fields"},
	{line: "get f --prefix --count-only"},
	{line: "get f --prefix --keys-only -w json"},
	{line: "get f --prefix --limit=1 --sort-by=KEY --order=DESCEND"},
	{line: "get f --prefix --limit 1 --sort-by=key --order=descend -w json"},
	{line: "get f --prefix --sort-by=VERSION --order=ASCEND --keys-only"},
	{line: "get f --prefix --sort-by=CREATE --order=DESCEND --keys-only"},
	{line: "get f1 --hex"},
	{line: "get '' --prefix --hex --keys-only"},
	{line: "get f1 --consistency=s"},
	{line: "get f1 --consistency=x"},
	{line: "get f1 --print-value-only -w json"},
	{line: "get f1 f2 --prefix"},
	{line: "get f1 --prefix --from-key"},
	{line: "get f1 --keys-only --count-only"},
	{line: "get f1 --sort-by=FOO"},
	{line: "get f1 --order=UP"},
	{line: "get f1 -w table"},
	{line: "get f1 -w yaml"},
	{line: "get f1 --limit=x", errorOnly: true},
	{line: "get f1 --rev=-1"},
	{line: "get '' --prefix --keys-only --min-mod-rev=13"},
	{line: "get '' --prefix --keys-only --max-mod-rev=13"},
	{line: "get '' --prefix --keys-only --min-create-rev=12 --max-create-rev=14"},
	{line: "get '' --prefix --keys-only --min-mod-rev=14 --max-mod-rev=13"},
	{line: "get '' --prefix --keys-only --min-create-rev=14 --max-create-rev=13"},
	{line: "get '' --from-key --count-only -w fields --rev=13"},
	{line: "get f --prefix --sort-by=VALUE"},
	{line: "get f --prefix --print-value-only --keys-only"},
	{line: "get -- --prefix"},
	{line: "get ''"},
	{line: "put '' v"},
	{line: "-w json get f1"},
	{line: "g f1 --hex"},
	{line: "gett f1"},
	{line: "l"},
	{line: "get f1 --rev", errorOnly: true},
	{line: "get f1 -x", errorOnly: true},
	{line: "put u 'héllo ☃'"},
	{line: "get u -w fields"},
	{line: "get u --hex"},
	{line: "get u -w json"},
	{line: "put f1 z --prev-kv --hex"},
	{line: "del u --prev-kv --hex"},

	// put's flags.
	{line: "put f1 --ignore-value"},
	{line: "put f1 --ignore-value --prev-kv -w fields"},
	{line: "put nokey --ignore-value"},
	{line: "put f1 v --ignore-value"},
	{line: "lease grant 3600"},
	{line: "put f3 v --lease=$LEASE"},
	{line: "put f3 w --ignore-lease"},
	{line: "get f3 -w fields"},
	{line: "get f3 -w json"},
	{line: "put f3 --ignore-value --ignore-lease --prev-kv -w json"},
	{line: "put f4 -- -dash"},
	{line: "put -- -f5 v"},
	{line: "get -- -f5"},
	{line: "get f4"},
	{line: "put f4 -dash", errorOnly: true},
	{line: "put f4 v --lease=zz"},
	{line: "put f4 v --lease=1234"},
	// etcdctl reads the value from stdin, which is empty here; the console has none.
	{line: "put f4"},

	// txn: every target (and its short name) and operator, empty sections, quoting, bad lines
	// (etcdctl exits at the first; the console leaves txn, so a bad line comes last).
	{line: "txn", input: []string{`value("f1") != "y"`, `val("f2") < "zz"`, `ver("f1") > "1"`, "", "get f1", "", ""}},
	{line: "txn -w fields", input: []string{`create("f1") < "1000"`, `c("f2") > "0"`, `mod("f1") != "0"`, `m("f2") < "1000"`, "", "put f6 x", "get f6", "del f6 --prev-kv", "", ""}},
	{line: "txn", input: []string{`lease("f3") = "$LEASE"`, `lease("f1") != "0"`, "", "", "get f3 --keys-only", "put f7 \"quoted value\"", "put f8 'single quoted'", ""}},
	{line: "txn --hex -w fields", input: []string{`version("f1") < "1"`, "", "", "get f7", ""}},
	{line: "txn", input: []string{"", "", ""}},
	{line: "txn -w json", input: []string{"", "", ""}},
	{line: "txn", input: []string{`version("f1") = "x"`}},
	{line: "txn", input: []string{`value("f1") = y`}},
	{line: "txn", input: []string{`foo("f1") = "1"`}},
	{line: "txn", input: []string{"txn"}},
	{line: "txn", input: []string{"", "txn"}},
	{line: "txn", input: []string{"", `value("f1") = "y"`}},
	// etcdctl prints the usage of its inner get command too.
	{line: "txn", input: []string{"", "get f1 --bogus"}, errorOnly: true},
	{line: "txn", input: []string{"", "watch f1"}},
	{line: "txn", input: []string{"", "", "get f1 f2 --prefix"}},
	{line: "txn", input: []string{"", "put f1"}},
	{line: "txn", input: []string{`lease("f1") = "zz"`}},
	{line: "txn", input: []string{`value(f1) = "1"`}},
	{line: "txn", input: []string{`value("f1) = "1"`}},
	{line: "txn", input: []string{`  value("f1") = "z"  `, "", "  get f1  ", "", `  put f1 "x`, ""}},
	{line: "txn a"},
	{line: "txn", input: []string{`value("f1")="y"`}},
	{line: "txn", input: []string{`value("f1") = "z" and more`, `value( "f1" ) = "z"`}},
	{line: "txn -w fields", input: []string{"", `put f10 "tab\tx"`, `put f11 "a\"b" --prev-kv`, "", ""}},
	{line: "get f10 f12 -w fields"},
	{line: "txn", input: []string{"", `put f12 "\q"`}},
	// A range delete warns and waits 2 s, in a txn too.
	{line: "txn", input: []string{"", "del f10 f12 --prev-kv", "", ""}},

	// compaction.
	{line: "compaction 1000"},
	{line: "compaction 3"},
	{line: "compaction abc"},
	{line: "compaction"},

	// lease.
	{line: "lease grant 0"},
	{line: "lease revoke $LEASE"},
	{line: "lease grant abc"},
	{line: "lease grant"},
	{line: "lease grant -5", errorOnly: true},
	{line: "lease grant -- -5"},
	{line: "lease revoke $LEASE"},
	{line: "lease grant 99999999999"},
	{line: "lease grant 1.5"},
	{line: "lease grant 10 20"},
	// Long TTLs: these stay to the script's end, where a lease list counts them, and the
	// slower side (a loaded machine) must not see them expire.
	{line: "lease grant 3600 -w fields"},
	{line: "lease grant 3600 -w json"},
	{line: "lease grant 3000"},
	{line: "put f9 v --lease=$LEASE"},
	{line: "lease timetolive $LEASE -w fields --keys"},
	{line: "lease timetolive $LEASE -w json --keys"},
	{line: "lease timetolive 1234"},
	{line: "lease timetolive 1234 -w json"},
	{line: "lease timetolive zz"},
	{line: "lease timetolive"},
	{line: "lease revoke zz"},
	{line: "lease revoke"},
	{line: "lease keep-alive --once 1234"},
	{line: "lease keep-alive --once $LEASE -w fields"},
	{line: "lease keep-alive"},
	{line: "lease revoke $LEASE -w fields"},
	{line: "lease revoke $LEASE -w json"},
	// A command that only groups others prints its help.
	{line: "lease foo", usage: true},
	{line: "lease ti 1234"},
	{line: "lease list extra"},
	{line: "lease keep-alive 1234"},
	{line: "lease grant 60"},
	// keep-alive prints its first renewal at once, then every TTL/3.
	{line: "lease keep-alive $LEASE", watch: true, until: `keepalived with TTL\(60\)\n`},
	{line: "lease keep-alive --once $LEASE -w json"},
	{line: "lease revoke $LEASE -w json"},
	{line: "lease timetolive $LEASE -w fields"},
	{line: "lease keep-alive $LEASE"},

	// del.
	{line: "put p/1 a"},
	{line: "put p/2 b"},
	{line: "put q 1"},
	{line: "del p/ --prefix"},
	{line: "del q --from-key --prev-kv -w fields"},
	{line: "del f --prefix -w json"},
	{line: "del f1 f2 --prefix"},
	{line: "del f1 --prefix --from-key"},
	{line: "del"},
	{line: "del a b c"},

	// watch: the history from --rev, replayed.
	{line: "put w 1"},
	{line: "put w 2"},
	{line: "put wx 3"},
	{line: "del w"},
	{line: "watch w --rev=4", watch: true, until: `DELETE\nw\n\n`},
	{line: "watch w --rev=4 --prev-kv", watch: true, until: `DELETE\nw\n2\nw\n\n`},
	{line: "watch w --prefix --rev=4 -w fields", watch: true, until: `"Type" : DELETE(\n.*){5}\n"Lease" : 0\n`},
	{line: "watch w --rev=4 --hex", watch: true, until: `DELETE\n\\x77\n\n`},
	{line: "watch w wy --rev=4 --prev-kv -w json", watch: true, until: `"Created":false}\n`},
	{line: "watch a --rev=2", watch: true, until: canceled},
	{line: "watch a --rev=2 -w json", watch: true, until: canceled},
	{line: "watch a --rev=2 -w fields", watch: true, until: canceled},
	{line: "watch w --rev=4 -w table", watch: true, until: `Error: table not supported as output format\n`},
	{line: "watch w --rev=1000", watch: true},
	{line: "watch nothing", watch: true},
	{line: "watch --rev=4", watch: true, until: `Error: bad number of arguments\n`},
	// The client (and with it --write-out) is checked before the key and range.
	{line: "watch w wy --prefix -w yaml"},
	{line: "watch w wy --prefix"},
	{line: "watch"},
	{line: "watch w --rev=x", errorOnly: true},

	// the rest: version, help, the connection flags' checks, endpoint health.
	{line: "version"},
	{line: "version extra"},
	{line: "version -w yaml"},
	{line: "compaction 30 -w yaml"},
	{line: "compaction 30 --physical"},
	{line: "endpoint", usage: true},
	// The console's root help lists only its commands (and names the others).
	{line: "help foo", head: 14},
	{line: "get --help", usage: true},
	{line: "lease grant --help", usage: true},
	{line: "compaction -h", usage: true},
	{line: "del --help", usage: true},
	{line: "version --help", usage: true},
	{line: "help lease timetolive", usage: true},
	{line: "endpoint health -h", usage: true},
	// The connection flags are checked (durations, empty TLS files) before the format is.
	{line: "get a --dial-timeout=abc", errorOnly: true},
	{line: "get a --command-timeout=1", errorOnly: true},
	{line: "get a --keepalive-time=1x", errorOnly: true},
	{line: "get a --cert="},
	{line: "get a --key= -w yaml"},
	{line: "watch --rev=1 -w yaml"},
	{line: "endpoint health"},
	{line: "endpoint health -w json"},
	{line: "endpoint health -w fields"},

	// member and move-leader: what etcdctl checks before its call, or clientv3 before the
	// request (peer URLs); their help.
	{line: "member", usage: true},
	{line: "member foo", usage: true},
	{line: "member add --help", usage: true},
	{line: "help member list", usage: true},
	{line: "member promote -h", usage: true},
	{line: "member update --help", usage: true},
	{line: "move-leader --help", usage: true},
	{line: "member add"},
	{line: "member add a b http://x HTTPS://y"},
	{line: "member add http://a"},
	{line: "member add a --peer-urls=127.0.0.1:2380"},
	{line: "member add a --peer-urls=foo,http://a:1"},
	{line: "member add a --peer-urls=http://a"},
	{line: "member add a --peer-urls=http://a:1/p"},
	{line: "member add a --peer-urls=http://a:x"},
	{line: "member add a --peer-urls=:80"},
	{line: "member add a --peer-urls=unix:sock,localhost:2380"},
	{line: "member add a --peer-urls=foo -w yaml"},
	{line: "member remove"},
	{line: "member remove zz"},
	{line: "member remove 1 2"},
	{line: "member remove 1ffffffffffffffff"},
	{line: "member update 1"},
	{line: "member update zz --peer-urls=http://a:1"},
	{line: "member update 1 --peer-urls=http://a"},
	{line: "member promote"},
	{line: "member promote -- -1"},
	{line: "member list --consistency=x -w yaml"},
	{line: "member list -w yaml"},
	{line: "move-leader"},
	{line: "move-leader zz"},
	{line: "move-leader 1 2"},
	{line: "move-leader 1 -w yaml"},

	// auth: users, roles and permissions, set up without credentials (auth is off); then, auth
	// on, commands without a user and as users (--user); auth off at the end, so that any
	// step after these runs as before.
	{line: "auth status"},
	{line: "auth enable"},
	{line: "user add root:rootpw"},
	{line: "user add :x"},
	{line: "user add alice --new-user-password=apw"},
	{line: "user add carol --no-password"},
	{line: "user add dave: -w json"},
	{line: "user add root:again"},
	{line: "user list"},
	{line: "role list"},
	{line: "role add reader"},
	{line: "role add reader"},
	{line: "role add ''"},
	{line: "role grant-permission reader read foo --prefix"},
	{line: "role grant-permission reader readwrite k1"},
	{line: "role grant-permission reader WRITE a c -w fields"},
	{line: "role add all"},
	{line: "role grant-permission all read '' --from-key"},
	{line: "role grant-permission all write '' --prefix"},
	{line: "role grant-permission all read ''"},
	{line: "role get all"},
	{line: "role grant-permission reader bogus x"},
	{line: "role grant-permission reader read x --prefix --from-key"},
	{line: "role grant-permission reader read x y --prefix"},
	{line: "role grant-permission reader read x y --from-key"},
	{line: "role grant-permission reader read b a"},
	{line: "role grant-permission nobody read x"},
	{line: "role grant-permission reader read"},
	{line: "role get reader"},
	{line: "role get reader -w fields"},
	{line: "role get reader -w json"},
	{line: "role get nobody"},
	{line: "role list -w fields"},
	{line: "role list -w json"},
	{line: "user grant-role alice reader"},
	{line: "user grant-role alice nobody"},
	{line: "user grant-role alice reader -w json"},
	{line: "user get alice"},
	{line: "user get alice --detail"},
	{line: "user get alice -w json"},
	{line: "user get carol"},
	{line: "user get nobody"},
	{line: "user list -w fields"},
	{line: "user list -w json"},
	{line: "auth status -w json"},
	{line: "auth status -w fields"},
	{line: "auth enable"},
	{line: "auth status"},
	{line: "auth status --user root:rootpw"},
	{line: "role get root --user root:rootpw"},
	{line: "put foo bar"},
	{line: "get foo"},
	{line: "put foo bar --user root:rootpw"},
	{line: "put foo/x y --user=root:rootpw"},
	{line: "get foo --user alice:apw"},
	{line: "get foo --prefix --user alice:apw -w json"},
	{line: "get foo --user alice:wrong"},
	{line: "get foo --user nobody:x"},
	{line: "get foo --user carol:x"},
	{line: "get foo --user alice --password apw"},
	{line: "get foo --user alice:"},
	{line: "put foo x --user alice:apw"},
	{line: "put k1 v --user alice:apw"},
	{line: "del foo --user alice:apw"},
	{line: "txn --user alice:apw", input: []string{"", "put k1 w", "", "put foo w", ""}},
	{line: "txn --user alice:apw", input: []string{`value("k1") = "v"`, "", "put k1 w", "", ""}},
	{line: "user list --user alice:apw"},
	{line: "user get alice --user alice:apw"},
	{line: "user get root --user alice:apw"},
	{line: "role get reader --user alice:apw"},
	{line: "role get all --user alice:apw"},
	{line: "compaction 1 --user alice:apw"},
	{line: "lease grant 3600 --user root:rootpw"},
	{line: "put foo/l v --lease=$LEASE --user root:rootpw"},
	{line: "put k1 x --lease=$LEASE --user alice:apw"},
	{line: "lease timetolive $LEASE --keys --user alice:apw"},
	{line: "lease keep-alive --once $LEASE --user alice:apw"},
	{line: "lease revoke $LEASE --user alice:apw"},
	{line: "lease revoke $LEASE --user root:rootpw"},
	{line: "lease grant 3600 --user alice:apw"},
	{line: "put k1 y --lease=$LEASE --user alice:apw"},
	{line: "lease list --user alice:apw"},
	{line: "lease timetolive $LEASE --keys --user alice:apw"},
	{line: "lease revoke $LEASE --user alice:apw"},
	{line: "watch foo", watch: true, until: canceled},
	{line: "watch zzz --user alice:apw", watch: true, until: canceled},
	{line: "user delete root --user root:rootpw"},
	{line: "role delete root --user root:rootpw"},
	{line: "user revoke-role root root --user root:rootpw"},
	{line: "role revoke-permission reader foo --prefix --user root:rootpw"},
	{line: "role revoke-permission reader a c --user root:rootpw"},
	{line: "role revoke-permission all '' --from-key --user root:rootpw"},
	{line: "role revoke-permission reader nope --user root:rootpw"},
	{line: "role revoke-permission reader k1 --user root:rootpw -w json"},
	{line: "get foo --user alice:apw"},
	{line: "user passwd alice newpw --user root:rootpw", etcdctl: "user passwd alice --interactive=false --user root:rootpw", stdin: "newpw"},
	{line: "get k1 --user alice:apw"},
	{line: "user revoke-role alice reader --user alice:newpw"},
	{line: "user revoke-role alice reader --user root:rootpw"},
	{line: "user revoke-role alice reader --user root:rootpw"},
	{line: "auth disable --user alice:newpw"},
	{line: "auth disable --user root:rootpw"},
	{line: "auth status"},
	{line: "get foo"},
	{line: "user delete carol"},
	{line: "role delete reader"},
	{line: "user get alice"},
	{line: "user list"},
	{line: "user get alice -w table"},
	{line: "auth disable extra"},
	{line: "user get"},
	{line: "user passwd a b c"},
	{line: "role add"},
	{line: "role list x"},
	{line: "user grant-role alice"},
	{line: "role revoke-permission all"},
	{line: "user", usage: true},
	{line: "role --help", usage: true},
	{line: "help auth", usage: true},
	{line: "role grant-permission --help", usage: true},
	{line: "user get -h", usage: true},
}

// The last line of a watch from a compacted revision (which ends by itself).
const canceled = `Error: watch is canceled by the server\n`

var (
	idHex  = regexp.MustCompile(`\b[0-9a-f]{16}\b`)
	idJSON = regexp.MustCompile(`"(ID|id|lease)":-?\d+`)
	// Lease IDs in decimal (-w fields) and a key's lease.
	idFields = regexp.MustCompile(`"(ID|Lease|PrevLease)" : -?[1-9]\d*`)
	// A lease's remaining TTL (lease timetolive, in each format) depends on how long the steps
	// since its grant took, which differs between etcdctl (a process a step) and the console,
	// and with the machine's load. The granted TTL is still compared, and the remaining one
	// must be there, between 0 and the granted TTL (see remaining); an expired lease's -1 is
	// compared as it is.
	remainingTTL = []*regexp.Regexp{
		regexp.MustCompile(`granted with TTL\((?P<granted>\d+)s\), remaining\((?P<ttl>-?\d+)s\)`),
		regexp.MustCompile(`"ttl":(?P<ttl>-?\d+),"granted-ttl":(?P<granted>\d+)`),
		regexp.MustCompile(`"TTL" : (?P<ttl>-?\d+)\n"GrantedTTL" : (?P<granted>\d+)`),
	}
	// What the tab has no value for: it is no cluster member and runs no Raft.
	memberJSON   = regexp.MustCompile(`"cluster_id":\d+,"member_id":\d+,?|,?"raft_term":\d+`)
	memberFields = regexp.MustCompile(`(?m)^"(ClusterID|MemberID|RaftTerm)" : \S+\n`)
	// endpoint health: the endpoint as each was given it, and the time taken.
	healthSimple = regexp.MustCompile(`(?m)^.+ is healthy: successfully committed proposal: took = \S+$`)
	healthJSON   = regexp.MustCompile(`"endpoint":"[^"]*","health":true,"took":"[^"]*"`)
	healthFields = regexp.MustCompile(`(?m)^"(Endpoint|Took)" : .*$`)
	// endpoint hashkv: the endpoint, in each format and in its failure.
	hashKVSimple = regexp.MustCompile(`(?m)^.+?(, \d+, \d+)$`)
	hashKVJSON   = regexp.MustCompile(`"Endpoint":"[^"]*","HashKV"`)
	hashKVFailed = regexp.MustCompile(`Failed to get the hash of endpoint .+? \(`)
)

// remaining replaces each remaining TTL in s that lies between 0 and its lease's granted TTL
// with <ttl>; another value (an expired lease's -1, or a wrong one) is left as printed.
func remaining(s string) string {
	for _, re := range remainingTTL {
		ttl, granted := re.SubexpIndex("ttl"), re.SubexpIndex("granted")
		s = re.ReplaceAllStringFunc(s, func(m string) string {
			sub := re.FindStringSubmatchIndex(m)
			n, _ := strconv.Atoi(m[sub[2*ttl]:sub[2*ttl+1]])
			g, _ := strconv.Atoi(m[sub[2*granted]:sub[2*granted+1]])
			if n < 0 || n > g {
				return m
			}
			return m[:sub[2*ttl]] + "<ttl>" + m[sub[2*ttl+1]:]
		})
	}
	return s
}

// TestRemainingTTL: remaining TTLs, in every format timetolive prints, compare equal however
// much time passed, but only while they are possible (between 0 and the granted TTL).
func TestRemainingTTL(t *testing.T) {
	for _, c := range []struct{ a, b string }{
		{"lease 1 granted with TTL(50s), remaining(49s), attached keys([f9])", "lease 1 granted with TTL(50s), remaining(48s), attached keys([f9])"},
		{`{"revision":30,"id":1,"ttl":49,"granted-ttl":50,"keys":["Zjk="]}`, `{"revision":30,"id":1,"ttl":0,"granted-ttl":50,"keys":["Zjk="]}`},
		{"\"ID\" : 1\n\"TTL\" : 50\n\"GrantedTTL\" : 50\n", "\"ID\" : 1\n\"TTL\" : 47\n\"GrantedTTL\" : 50\n"},
	} {
		if a, b := normalize(c.a, false), normalize(c.b, false); a != b || !strings.Contains(a, "<ttl>") {
			t.Errorf("%q and %q normalized to %q and %q", c.a, c.b, a, b)
		}
	}
	for _, c := range []struct{ a, b string }{
		{`{"id":1,"ttl":-1,"granted-ttl":0,"keys":null}`, `{"id":1,"ttl":0,"granted-ttl":0,"keys":null}`},
		{`{"id":1,"ttl":49,"granted-ttl":50}`, `{"id":1,"ttl":51,"granted-ttl":50}`},
		{"\"TTL\" : -1\n\"GrantedTTL\" : 0", "\"TTL\" : 3\n\"GrantedTTL\" : 0"},
		{"granted with TTL(50s), remaining(49s)", "granted with TTL(40s), remaining(39s)"},
		{`{"id":1,"ttl":49,"granted-ttl":50}`, `{"id":1,"granted-ttl":50}`},
	} {
		if a, b := normalize(c.a, false), normalize(c.b, false); a == b {
			t.Errorf("%q and %q both normalized to %q", c.a, c.b, a)
		}
	}
}

func normalize(s string, tab bool) string {
	s = remaining(s)
	s = idHex.ReplaceAllString(s, "<id>")
	s = idJSON.ReplaceAllString(s, `"$1":<id>`)
	s = idFields.ReplaceAllString(s, `"$1" : <id>`)
	s = healthSimple.ReplaceAllString(s, "<endpoint> is healthy: successfully committed proposal: took = <took>")
	s = healthJSON.ReplaceAllString(s, `"endpoint":<endpoint>,"health":true,"took":<took>`)
	s = healthFields.ReplaceAllString(s, `"$1" : <$1>`)
	s = hashKVSimple.ReplaceAllString(s, "<endpoint>$1")
	s = hashKVJSON.ReplaceAllString(s, `"Endpoint":<endpoint>,"HashKV"`)
	s = hashKVFailed.ReplaceAllString(s, "Failed to get the hash of endpoint <endpoint> (")
	if tab {
		s = memberJSON.ReplaceAllString(s, "")
		s = memberFields.ReplaceAllString(s, "")
	}
	return strings.TrimRight(s, "\n")
}

// shellWords splits a line as a POSIX shell would for these simple cases (single and
// double quotes, no escapes).
func shellWords(line string) []string {
	var out []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// fastLogins: bcrypt's cheapest cost for the members the script logs in to (the tab uses it
// too); a login at the default cost takes seconds under -race on a loaded machine.
var fastLogins = node.Config{BcryptCost: 4}

// scriptVars is what a run's $NAMEs stand for: given beforehand (a cluster's member IDs and
// addresses), or learned from what a step printed (see learnable).
type scriptVars struct {
	values map[string]string
	// learned: each value a learnable $NAME took, in order.
	learned map[string][]string
}

// learnable: the $NAMEs a step's output sets, $LEASE (the lease it granted) and $NEW (the
// member it added).
var learnable = map[string]*regexp.Regexp{
	"LEASE": leaseID,
	"NEW":   regexp.MustCompile(`Member +([0-9a-f]+) added`),
}

// newVars: the given values, and $LEASE empty until a lease is granted.
func newVars(given map[string]string) *scriptVars {
	v := &scriptVars{values: map[string]string{"LEASE": ""}, learned: map[string][]string{}}
	for k, x := range given {
		v.values[k] = x
	}
	return v
}

func (v *scriptVars) expand(line string) string {
	for k, x := range v.values {
		line = strings.ReplaceAll(line, "$"+k, x)
	}
	return line
}

func (v *scriptVars) learn(printed string) {
	for k, re := range learnable {
		if m := re.FindStringSubmatch(printed); m != nil {
			v.values[k] = m[1]
			v.learned[k] = append(v.learned[k], m[1])
		}
	}
}

// runEtcdctl runs the script through the real etcdctl against endpoint (unless a step says
// --endpoints); it returns what each step printed, stdout and stderr in order, without the
// JSON log lines of etcdctl's client. It may run on a goroutine of its own (beside the
// console's run), so it reports with t.Errorf, never t.Fatal.
func runEtcdctl(t *testing.T, bin, endpoint string, script []step, vars *scriptVars) []string {
	var out []string
	for _, s := range script {
		line := s.line
		if s.etcdctl != "" {
			line = s.etcdctl
		}
		// Generous timeouts first (a step's own flags come later and win): a loaded machine
		// must not turn etcdctl's 2 s dial (a login included) or 5 s call into an error. A
		// step's own --endpoints would add to one given here.
		args := []string{"--dial-timeout=15s", "--command-timeout=15s"}
		if !strings.Contains(line, "--endpoints") {
			args = append([]string{"--endpoints", endpoint}, args...)
		}
		args = append(args, shellWords(vars.expand(line))...)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, bin, args...)
		switch {
		case s.input != nil:
			cmd.Stdin = strings.NewReader(vars.expand(strings.Join(s.input, "\n")) + "\n")
		case s.etcdctl != "":
			cmd.Stdin = strings.NewReader(s.stdin + "\n")
		}
		var both syncbuf.Buffer
		cmd.Stdout, cmd.Stderr = &both, &both
		if s.watch {
			// A watch runs until it is interrupted, or exits by itself (canceled).
			if err := cmd.Start(); err != nil {
				t.Errorf("%s: %v", s.line, err)
				cancel()
				out = append(out, "")
				continue
			}
			done := make(chan struct{})
			go func() {
				cmd.Wait()
				close(done)
			}()
			if !waitUntil(done, s, func() string { return withoutLogs(both.String()) }) {
				t.Errorf("%s: etcdctl did not print %q within %v:\n%s", s.line, s.until, untilTimeout, withoutLogs(both.String()))
			}
			cmd.Process.Kill()
			<-done
		} else {
			cmd.Run()
		}
		cancel()
		text := withoutLogs(both.String())
		vars.learn(text)
		out = append(out, text)
	}
	return out
}

// waitUntil waits until the watch step s, running, printed its until (what printed returns)
// or ended (done closed), for at most untilTimeout; with no until, until it ended or watchFor
// passed. It is false if the step's until did not come.
func waitUntil(done <-chan struct{}, s step, printed func() string) bool {
	if s.until == "" {
		select {
		case <-done:
		case <-time.After(watchFor):
		}
		return true
	}
	re := regexp.MustCompile(s.until)
	deadline := time.Now().Add(untilTimeout)
	for !re.MatchString(printed()) {
		select {
		case <-done:
			return re.MatchString(printed())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// withoutLogs drops the JSON log lines of etcdctl's client.
func withoutLogs(s string) string {
	var text string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, `{"level"`) {
			text += l
		}
	}
	return text
}

// runConsole types the script into the playground's console, txn bodies line by line at
// its prompts as at etcdctl's interactive ones; a watch is stopped with Ctrl+C. On a server
// the page asks before a compaction (etcdctl does not): it is told yes.
func runConsole(t *testing.T, ctx context.Context, script []step, vars *scriptVars) []string {
	var out []string
	for _, s := range script {
		text, _ := answered(t, ctx, vars.expand(s.line), "yes")
		for _, l := range s.input {
			text += printed(t, ctx, vars.expand(l))
		}
		if s.watch {
			if s.until == "" {
				time.Sleep(watchFor) // it should print nothing: give it the time etcdctl had
			} else {
				waitFor(t, ctx, fmt.Sprintf(`new RegExp(%q).test(%s)`, s.until, sinceMark), "the console did not print "+s.until+": "+s.line)
			}
			text = printedSinceMark(t, ctx)
			if err := chromedp.Do(ctx, chromedp.KeyEvent("c", chromedp.KeyModifiers(chromedp.ModifierCtrl))); err != nil {
				t.Fatal(err)
			}
			waitFor(t, ctx, `!playground.shell.busy`, "Ctrl+C did not stop the watch: "+s.line)
		}
		vars.learn(text)
		out = append(out, text)
	}
	return out
}

// sinceMark is printedSinceMark in the page.
const sinceMark = `[...document.querySelector("[aria-label=output]").children].slice(window.mark).filter(e => !e.classList.contains("in")).map(e => e.textContent + "\n").join("")`

// printedSinceMark is what the console printed since the last line typed (printed marks it):
// a watch goes on printing after its command returned.
func printedSinceMark(t *testing.T, ctx context.Context) string {
	t.Helper()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](sinceMark))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// compareWithEtcdctl compares what each step of script printed, each side normalized by its
// own function.
func compareWithEtcdctl(t *testing.T, script []step, want, got []string, normWant, normGot func(string) string) {
	t.Helper()
	for i, s := range script {
		w, g := normWant(want[i]), normGot(got[i])
		if s.errorOnly {
			w, g = errorLines(w), errorLines(g)
		}
		if s.usage {
			w, g = beforeGlobalOptions(w), beforeGlobalOptions(g)
		}
		if s.head > 0 {
			w, g = firstLines(w, s.head), firstLines(g, s.head)
		}
		if s.sorted {
			w, g = sortedLines(w), sortedLines(g)
		}
		if w != g {
			t.Errorf("%s %s\netcdctl printed:\n%s\nthe console printed:\n%s", s.line, strings.Join(s.input, " ⏎ "), w, g)
		}
	}
}

func sortedLines(s string) string {
	l := strings.Split(s, "\n")
	slices.Sort(l)
	return strings.Join(l, "\n")
}

func beforeGlobalOptions(s string) string {
	s, _, _ = strings.Cut(s, "GLOBAL OPTIONS:")
	return s
}

func firstLines(s string, n int) string {
	l := strings.SplitN(s, "\n", n+1)
	return strings.Join(l[:min(n, len(l))], "\n")
}

func errorLines(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "Error:") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestConsoleLikeEtcdctl types the script into the console in two tabs of one browser at
// once, and compares each with one run of etcdctl on a fresh member (on a goroutine of its
// own, beside them: the runs touch different members, and each spends most of its time
// waiting on processes, pages and watches that print nothing):
//   - tab: the console on the store in the tab (headers differ: not compared);
//   - server: the console connected to a fresh member of another origin than the page's,
//     headers included.
//
// The pages come from two origins, so that the tab's saved store (IndexedDB) is not shared.
func TestConsoleLikeEtcdctl(t *testing.T) {
	_, ref := testserver.Start(t, testserver.Options{Node: fastLogins})
	bin := etcdctl(t)
	var want []string
	etcdctlDone := make(chan struct{})
	go func() { defer close(etcdctlDone); want = runEtcdctl(t, bin, ref, script, newVars(nil)) }()
	t.Cleanup(func() { <-etcdctlDone }) // it reports through t: the test must outlive it
	tabCtx, _ := playground(t)
	serverCtx, page := playgroundInTab(t, tabCtx)
	compare := func(t *testing.T, got []string, tab bool) {
		<-etcdctlDone
		norm := func(s string) string { return normalize(s, tab) }
		compareWithEtcdctl(t, script, want, got, norm, norm)
	}
	t.Run("modes", func(t *testing.T) {
		t.Run("tab", func(t *testing.T) {
			t.Parallel()
			compare(t, runConsole(t, tabCtx, script, newVars(nil)), true)
		})
		t.Run("server", func(t *testing.T) {
			t.Parallel()
			// Another origin than the page's: the member must allow it, as etcd's --cors does.
			_, other := testserver.Start(t, testserver.Options{Node: fastLogins, CORS: grpcweb.ParseOrigins("http://" + page)})
			fill(t, serverCtx, `[aria-label="server address"]`, "http://"+other)
			click(t, serverCtx, "#connect-button")
			waitFor(t, serverCtx, `document.querySelector("#status").textContent.startsWith("http://")`, "did not connect")
			compare(t, runConsole(t, serverCtx, script, newVars(nil)), false)
		})
	})
}

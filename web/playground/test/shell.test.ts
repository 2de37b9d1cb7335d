// The etcdctl console against the real core (wasm), table-driven: a sequence of input lines
// and the terminal it should leave. Expected outputs are etcdctl v3.6's (checked against
// etcdctl on a metastore server), except that the tab's response headers carry only the
// revision (no cluster_id, member_id, raft_term) and its status has no raft.
//
// Run: cd web && npm run test:shell   (needs web/dist/metastore.wasm: make web)
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  MemberListResponseSchema, MoveLeaderResponseSchema, RangeResponseSchema, StatusResponseSchema,
} from "../../client/src/gen/etcd/api/etcdserverpb/rpc_pb.js";
import { MetaStoreError, TabApi, type Api } from "../src/api.js";
import { examples } from "../src/panels/examples.js";
import { renderTable } from "../src/shell/table.js";
import { Recorder, sleep, startCore } from "./harness.js";

/**
 * A step: a line to run (awaited); {bg} runs a line without waiting for it; {until} waits
 * until the transcript so far matches (what a watch or a background command prints comes
 * when it comes: no fixed sleep, which a busy machine can outlast); {interrupt} is Ctrl+C;
 * {advance} moves the tab's (paused) clock forward, in seconds.
 */
type Step = string | { bg: string } | { until: RegExp } | { interrupt: true } | { advance: number };

/** How long an {until} step waits before the case fails: generous, for a busy machine. */
const patienceMs = 30_000;

interface Case {
  name: string;
  steps: Step[];
  /** The transcript: each line run as "<prompt> <line>", then what it printed; stderr lines start with "! ". */
  want: string;
}

// The last line of a watch from a compacted revision (it ends by itself).
const canceled = /! Error: watch is canceled by the server$/;

// Lease IDs differ between runs: the transcript shows the last granted one as $LEASE (hex)
// and $LEASE_DEC (decimal), and a step may use $LEASE.
const cases: Case[] = [
  {
    name: "put and get",
    steps: ["put foo bar", "put foo baz --prev-kv", "get foo", "get foo -w json", "get foo --print-value-only", "get nope"],
    want: `$ put foo bar
OK
$ put foo baz --prev-kv
OK
foo
bar
$ get foo
foo
baz
$ get foo -w json
{"header":{"revision":3},"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":3,"version":2,"value":"YmF6"}],"count":1}
$ get foo --print-value-only
baz
$ get nope`,
  },
  {
    name: "ranges, sorting, limits, revisions",
    steps: [
      "put k1 v1", "put k2 v2", "put k3 v3", "put k1 v1b",
      "get k --prefix --keys-only", "get k1 k3", "get k --prefix --limit=2 -w json",
      "get k --prefix --sort-by=MODIFY --order=DESCEND", "get k1 --rev=2", "get '' --from-key --keys-only",
      "get k --prefix --count-only -w fields", "get k1 --hex", "get k1 -w fields",
    ],
    want: `$ put k1 v1
OK
$ put k2 v2
OK
$ put k3 v3
OK
$ put k1 v1b
OK
$ get k --prefix --keys-only
k1

k2

k3

$ get k1 k3
k1
v1b
k2
v2
$ get k --prefix --limit=2 -w json
{"header":{"revision":5},"kvs":[{"key":"azE=","create_revision":2,"mod_revision":5,"version":2,"value":"djFi"},{"key":"azI=","create_revision":3,"mod_revision":3,"version":1,"value":"djI="}],"more":true,"count":3}
$ get k --prefix --sort-by=MODIFY --order=DESCEND
k1
v1b
k3
v3
k2
v2
$ get k1 --rev=2
k1
v1
$ get '' --from-key --keys-only
k1

k2

k3

$ get k --prefix --count-only -w fields
"ClusterID" : 0
"MemberID" : 0
"Revision" : 5
"RaftTerm" : 0
"More" : false
"Count" : 3
$ get k1 --hex
\\x6b\\x31
\\x76\\x31\\x62
$ get k1 -w fields
"ClusterID" : 0
"MemberID" : 0
"Revision" : 5
"RaftTerm" : 0
"Key" : "k1"
"CreateRevision" : 2
"ModRevision" : 5
"Version" : 2
"Value" : "v1b"
"Lease" : 0
"More" : false
"Count" : 1`,
  },
  {
    name: "del",
    steps: ["put a 1", "put ab 2", "put b 3", "del a --prefix --prev-kv", "del nope", "del b -w json", "del a c --range"],
    want: `$ put a 1
OK
$ put ab 2
OK
$ put b 3
OK
$ del a --prefix --prev-kv
2
a
1
ab
2
$ del nope
0
$ del b -w json
{"header":{"revision":6},"deleted":1}
$ del a c --range
0`,
  },
  {
    name: "argument errors, as etcdctl words them",
    steps: [
      "get", "put", "put a", "del", "del a b c", "get a --prefix --from-key", "get a b --prefix", "get a --keys-only --count-only",
      "get a --count-only", "get a --sort-by=foo", "get a --order=bad", "get a --limit=abc", "get a --consistency=x",
      "put a b --lease=zz", "put a b --ignore-value", "txn x", "compaction", "compaction x", "lease grant", "lease grant x",
      "lease revoke zz", "lease keep-alive", "lease timetolive", "get a -w bogus", "get a -w table", "get a -w json --print-value-only",
    ],
    want: `$ get
! Error: get command needs one argument as key and an optional argument as range_end
$ put
! Error: put command needs 1 argument and input from stdin or 2 arguments
$ put a
! Error: put command needs 1 argument and input from stdin or 2 arguments
$ del
! Error: del command needs one argument as key and an optional argument as range_end
$ del a b c
! Error: del command needs one argument as key and an optional argument as range_end
$ get a --prefix --from-key
! Error: \`--prefix\` and \`--from-key\` cannot be set at the same time, choose one
$ get a b --prefix
! Error: too many arguments, only accept one argument when \`--prefix\` or \`--from-key\` is set
$ get a --keys-only --count-only
! Error: \`--keys-only\` and \`--count-only\` cannot be set at the same time, choose one
$ get a --count-only
! Error: --count-only is only for \`--write-out=fields\`
$ get a --sort-by=foo
! Error: bad sort target foo
$ get a --order=bad
! Error: bad sort order bad
$ get a --limit=abc
! Error: invalid argument "abc" for "--limit" flag: strconv.ParseInt: parsing "abc": invalid syntax
$ get a --consistency=x
! Error: unknown consistency flag "x"
$ put a b --lease=zz
! Error: bad lease ID (strconv.ParseInt: parsing "zz": invalid syntax), expecting ID in Hex
$ put a b --ignore-value
! Error: put command needs only 1 argument when 'ignore-value' is set
$ txn x
! Error: txn command does not accept argument
$ compaction
! Error: compaction command needs 1 argument
$ compaction x
! Error: strconv.ParseInt: parsing "x": invalid syntax
$ lease grant
! Error: lease grant command needs TTL argument
$ lease grant x
! Error: bad TTL (strconv.ParseInt: parsing "x": invalid syntax)
$ lease revoke zz
! Error: bad lease ID arg (strconv.ParseInt: parsing "zz": invalid syntax), expecting ID in Hex
$ lease keep-alive
! Error: lease keep-alive command needs lease ID as argument
$ lease timetolive
! Error: lease timetolive command needs lease ID as argument
$ get a -w bogus
! Error: unsupported output format
$ get a -w table
! Error: table not supported as output format
$ get a -w json --print-value-only
! Error: print-value-only is only for \`--write-out=simple\``,
  },
  {
    name: "connection flags checked as etcdctl checks them, before --write-out; watch's checks after it",
    steps: [
      "get a --dial-timeout=abc", "get a --command-timeout=1", "get a --keepalive-time=1.5h2x", "get a --keepalive-timeout=-1m30.5s",
      "get a --cert=", "get a --key= -w yaml", "get a --max-request-bytes=x", "watch a b --prefix -w yaml", "watch --rev=1 -w yaml",
      "watch", "watch --rev=1", "lease keep-alive 1234",
    ],
    want: `$ get a --dial-timeout=abc
! Error: invalid argument "abc" for "--dial-timeout" flag: time: invalid duration "abc"
$ get a --command-timeout=1
! Error: invalid argument "1" for "--command-timeout" flag: time: missing unit in duration "1"
$ get a --keepalive-time=1.5h2x
! Error: invalid argument "1.5h2x" for "--keepalive-time" flag: time: unknown unit "x" in duration "1.5h2x"
$ get a --keepalive-timeout=-1m30.5s
$ get a --cert=
! Error: empty string is passed to --cert option
$ get a --key= -w yaml
! Error: empty string is passed to --key option
$ get a --max-request-bytes=x
! Error: invalid argument "x" for "--max-request-bytes" flag: strconv.ParseInt: parsing "x": invalid syntax
$ watch a b --prefix -w yaml
! Error: unsupported output format
$ watch --rev=1 -w yaml
! Error: unsupported output format
$ watch
! Error: bad number of arguments
$ watch --rev=1
! Error: bad number of arguments
$ lease keep-alive 1234
lease 0000000000001234 expired or revoked.`,
  },
  {
    name: "command line: etcdctl prefix, quotes, flags, unknown commands and flags, prefixes",
    steps: [
      `etcdctl put "a b" 'c  d'`, "ETCDCTL_API=3 etcdctl get 'a b'", "$ etcdctl --write-out json del 'a b'",
      "put -- k -v", "get k --print-value-only", "g k", "put k2 v -w=json", "-w json get k",
      "foo", "l", "put a b --bogus", "get a -x", "get a --limit", "get a -w", "get a --prefix=maybe",
      "alarm list",
    ],
    want: `$ etcdctl put "a b" 'c  d'
OK
$ ETCDCTL_API=3 etcdctl get 'a b'
a b
c  d
$ $ etcdctl --write-out json del 'a b'
{"header":{"revision":3},"deleted":1}
$ put -- k -v
OK
$ get k --print-value-only
-v
$ g k
k
-v
$ put k2 v -w=json
{"header":{"revision":5}}
$ -w json get k
{"header":{"revision":5},"kvs":[{"key":"aw==","create_revision":4,"mod_revision":4,"version":1,"value":"LXY="}],"count":1}
$ foo
! Error: unknown command "foo" for "etcdctl"
! Run 'etcdctl --help' for usage.
$ l
! Error: unknown command "l" for "etcdctl"
! 
! Did you mean this?
! \tdel
! \tlease
! \tlock
! 
! Run 'etcdctl --help' for usage.
$ put a b --bogus
! Error: unknown flag: --bogus
$ get a -x
! Error: unknown shorthand flag: 'x' in -x
$ get a --limit
! Error: flag needs an argument: --limit
$ get a -w
! Error: flag needs an argument: 'w' in -w
$ get a --prefix=maybe
! Error: invalid argument "maybe" for "--prefix" flag: strconv.ParseBool: parsing "maybe": invalid syntax
$ alarm list
! Error: "etcdctl alarm" is not available in this console (see 'help')`,
  },
  {
    name: "membership in the tab: its store is no cluster member; --endpoints names only it",
    steps: [
      "member list", "member add m2 --peer-urls=http://127.0.0.1:2380 --learner", "member remove 1", "move-leader 1",
      "endpoint status --cluster", "endpoint health --cluster -w json",
      "put a 1 --endpoints=http://127.0.0.1:2379", "get a --endpoints='this tab' --print-value-only",
      "endpoint status --endpoints='this tab',other -w json", "get a --endpoints=", "endpoint status --endpoints= -w json",
      // What etcdctl's client checks before it asks: the tab answers the same.
      "member add m2 --peer-urls=127.0.0.1:2380", "member add m2 --peer-urls=foo,http://a:1",
      "member add m2 --peer-urls=http://a", "member add m2 --peer-urls=http://a:1/p", "member add m2 --peer-urls=http://a:x",
      "member update 1 --peer-urls=:80", "member remove 1ffffffffffffffff", "member promote x", "move-leader -- -1",
      "member list --consistency=s -w yaml", "member list --consistency=x -w yaml",
    ],
    want: `$ member list
! Error: the store in this tab is a single store, not a cluster member: the Cluster tab runs a Raft cluster in the tab
$ member add m2 --peer-urls=http://127.0.0.1:2380 --learner
! Error: the store in this tab is a single store, not a cluster member: the Cluster tab runs a Raft cluster in the tab
$ member remove 1
! Error: the store in this tab is a single store, not a cluster member: the Cluster tab runs a Raft cluster in the tab
$ move-leader 1
! Error: the store in this tab is a single store, not a cluster member: the Cluster tab runs a Raft cluster in the tab
$ endpoint status --cluster
! Error: failed to fetch endpoints from etcd cluster member list: the store in this tab is a single store, not a cluster member: the Cluster tab runs a Raft cluster in the tab
$ endpoint health --cluster -w json
! Error: failed to fetch endpoints from etcd cluster member list: the store in this tab is a single store, not a cluster member: the Cluster tab runs a Raft cluster in the tab
$ put a 1 --endpoints=http://127.0.0.1:2379
! Error: this tab has no endpoint "http://127.0.0.1:2379": the store in this tab is a single store, not a cluster member: the Cluster tab runs a Raft cluster in the tab
$ get a --endpoints='this tab' --print-value-only
$ endpoint status --endpoints='this tab',other -w json
! Error: this tab has no endpoint "other": the store in this tab is a single store, not a cluster member: the Cluster tab runs a Raft cluster in the tab
$ get a --endpoints=
! Error: etcdclient: no available endpoints
$ endpoint status --endpoints= -w json
null
$ member add m2 --peer-urls=127.0.0.1:2380
! Error: parse "127.0.0.1:2380": first path segment in URL cannot contain colon
$ member add m2 --peer-urls=foo,http://a:1
! Error: URL scheme must be http, https, unix, or unixs: foo
$ member add m2 --peer-urls=http://a
! Error: URL address does not have the form "host:port": http://a
$ member add m2 --peer-urls=http://a:1/p
! Error: URL must not contain a path: http://a:1/p
$ member add m2 --peer-urls=http://a:x
! Error: parse "http://a:x": invalid port ":x" after host
$ member update 1 --peer-urls=:80
! Error: parse ":80": missing protocol scheme
$ member remove 1ffffffffffffffff
! Error: bad member ID arg (strconv.ParseUint: parsing "1ffffffffffffffff": value out of range), expecting ID in Hex
$ member promote x
! Error: bad member ID arg (strconv.ParseUint: parsing "x": invalid syntax), expecting ID in Hex
$ move-leader -- -1
! Error: strconv.ParseUint: parsing "-1": invalid syntax
$ member list --consistency=s -w yaml
! Error: unsupported output format
$ member list --consistency=x -w yaml
! Error: unknown consistency flag "l"`,
  },
  {
    name: "txn, interactively",
    steps: ["put k1 v1", "txn", `mod("k1") > "0"`, "", `put k1 "over"`, "get k1", "del nope", "", "put k2 x", ""],
    want: `$ put k1 v1
OK
$ txn
compares: mod("k1") > "0"
compares: 
success requests (get, put, del): put k1 "over"
success requests (get, put, del): get k1
success requests (get, put, del): del nope
success requests (get, put, del): 
failure requests (get, put, del): put k2 x
failure requests (get, put, del): 
SUCCESS

OK

k1
over

0`,
  },
  {
    name: "txn in one input, JSON and fields, failure branch",
    steps: [
      "put k1 v1",
      `txn -w json\nmod("k1") > "0"\n\nput k1 "over"\nget k1\ndel nope\n\nput k2 x\n`,
      `txn -w fields\nvalue("k1") = "zz"\n\nput k1 "over"\n\nput k2 x\nget k2 --prefix`,
      `txn\nversion("k1") != "1"\ncreate("k3") = "0"\nval("k2") = "x"\n\nget k1\n\n`,
    ],
    want: `$ put k1 v1
OK
$ txn -w json
compares: mod("k1") > "0"
compares: 
success requests (get, put, del): put k1 "over"
success requests (get, put, del): get k1
success requests (get, put, del): del nope
success requests (get, put, del): 
failure requests (get, put, del): put k2 x
failure requests (get, put, del): 
{"header":{"revision":3},"succeeded":true,"responses":[{"Response":{"response_put":{"header":{"revision":3}}}},{"Response":{"response_range":{"header":{"revision":3},"kvs":[{"key":"azE=","create_revision":2,"mod_revision":3,"version":2,"value":"b3Zlcg=="}],"count":1}}},{"Response":{"response_delete_range":{"header":{"revision":3}}}}]}
$ txn -w fields
compares: value("k1") = "zz"
compares: 
success requests (get, put, del): put k1 "over"
success requests (get, put, del): 
failure requests (get, put, del): put k2 x
failure requests (get, put, del): get k2 --prefix
"ClusterID" : 0
"MemberID" : 0
"Revision" : 4
"RaftTerm" : 0
"Succeeded" : false
"ClusterID" : 0
"MemberID" : 0
"Revision" : 4
"RaftTerm" : 0
"ClusterID" : 0
"MemberID" : 0
"Revision" : 4
"RaftTerm" : 0
"Key" : "k2"
"CreateRevision" : 4
"ModRevision" : 4
"Version" : 1
"Value" : "x"
"Lease" : 0
"More" : false
"Count" : 1
$ txn
compares: version("k1") != "1"
compares: create("k3") = "0"
compares: val("k2") = "x"
compares: 
success requests (get, put, del): get k1
success requests (get, put, del):
failure requests (get, put, del):
SUCCESS

k1
over`,
  },
  {
    name: "txn errors",
    steps: [
      `txn\nbogus("k1") = "1"`, `txn\nmod(k1) > "0"`, `txn\nmod("k1") > "x"`, `txn\nmod("k1") >= "1"`,
      `txn\nmod("k1")>"1"\n\nput k1 v\n\nput k1 w\nget k1`, `txn\nmod("k1") = \`1\`\n\n\nput k1 "a\\tb\\x41"`, `get k1 --hex`, `txn\n\nfoo bar`, `txn\n\nput`, `txn\n\nput k1`, `txn\n\nget k -w json`, "txn", "put a b", { interrupt: true }, "put a b",
    ],
    want: `$ txn
compares: bogus("k1") = "1"
! Error: malformed comparison: bogus("k1") = "1" (unknown target bogus)
$ txn
compares: mod(k1) > "0"
! Error: malformed comparison: mod(k1) > "0"; got mod("")  ""
$ txn
compares: mod("k1") > "x"
! Error: invalid txn compare request: mod("k1") > "x"
$ txn
compares: mod("k1") >= "1"
! Error: malformed comparison: mod("k1") >= "1" (unknown operator >=; use =, !=, < or >)
$ txn
compares: mod("k1")>"1"
compares:
success requests (get, put, del): put k1 v
success requests (get, put, del):
failure requests (get, put, del): put k1 w
failure requests (get, put, del): get k1
! Error: malformed comparison: mod("k1")>"1"; got mod("k1")  ""
$ txn
compares: mod("k1") = \`1\`
compares:
success requests (get, put, del):
failure requests (get, put, del): put k1 "a\\tb\\x41"
FAILURE

OK
$ get k1 --hex
\\x6b\\x31
\\x61\\x09\\x62\\x41
$ txn
compares:
success requests (get, put, del): foo bar
! Error: invalid txn request: foo bar
$ txn
compares: 
success requests (get, put, del): put
! Error: invalid txn compare request: put
$ txn
compares: 
success requests (get, put, del): put k1
! Error: put command needs 1 argument and input from stdin or 2 arguments
$ txn
compares: 
success requests (get, put, del): get k -w json
! Error: invalid txn request: get k -w json
$ txn
compares: put a b
! Error: malformed comparison: put a b
^C
$ put a b
OK`,
  },
  {
    name: "watch until interrupted, simple, JSON and fields",
    steps: [
      "watch w --prefix --prev-kv", "put w a", "put w b", "del w", "put wx 1", { until: /PUT\nwx\n1\nOK$/ }, { interrupt: true },
      "watch w -w json", "put w c", { until: /"value":"Yw=="}}\],.*\nOK$/ }, { interrupt: true },
      "watch w -w fields", "del w", { until: /"Type" : DELETE(\n.*){5}\n"Lease" : 0\n1$/ }, { interrupt: true }, "put w d",
    ],
    want: `$ watch w --prefix --prev-kv
$ put w a
PUT
w
a
OK
$ put w b
PUT
w
a
w
b
OK
$ del w
DELETE
w
b
w

1
$ put wx 1
PUT
wx
1
OK
^C
$ watch w -w json
$ put w c
{"Header":{"revision":6},"Events":[{"kv":{"key":"dw==","create_revision":6,"mod_revision":6,"version":1,"value":"Yw=="}}],"CompactRevision":0,"Canceled":false,"Created":false}
OK
^C
$ watch w -w fields
$ del w
"ClusterID" : 0
"MemberID" : 0
"Revision" : 7
"RaftTerm" : 0
"Type" : DELETE
"Key" : "w"
"CreateRevision" : 0
"ModRevision" : 7
"Version" : 0
"Value" : ""
"Lease" : 0
1
^C
$ put w d
OK`,
  },
  {
    name: "watch from a revision, and from a compacted one",
    steps: [
      "put a 1", "put a 2", "put a 3", "watch a --rev=2", { until: /PUT\na\n3$/ }, { interrupt: true }, "compaction 3",
      "watch a --rev=2", { until: canceled }, "watch a --rev=1 -w json", { until: canceled }, "get a --rev=2",
      "watch", "watch a b --prefix", "watch a -i",
    ],
    want: `$ put a 1
OK
$ put a 2
OK
$ put a 3
OK
$ watch a --rev=2
PUT
a
1
PUT
a
2
PUT
a
3
^C
$ compaction 3
compacted revision 3
$ watch a --rev=2
! watch was canceled (etcdserver: mvcc: required revision has been compacted)
! Error: watch is canceled by the server
$ watch a --rev=1 -w json
! watch was canceled (etcdserver: mvcc: required revision has been compacted)
{"Header":{},"Events":[],"CompactRevision":3,"Canceled":true,"Created":false}
! Error: watch is canceled by the server
$ get a --rev=2
! Error: etcdserver: mvcc: required revision has been compacted
$ watch
! Error: bad number of arguments
$ watch a b --prefix
! Error: \`range_end\` and \`--prefix\` are mutually exclusive
$ watch a -i
! Error: interactive watch (-i) is not supported here; run several watch commands instead`,
  },
  {
    name: "leases",
    steps: [
      "lease grant 100", "put k v --lease=$LEASE", "lease timetolive $LEASE --keys", "lease timetolive $LEASE -w json --keys",
      "lease list", "lease keep-alive --once $LEASE", "lease keep-alive --once $LEASE -w json", "lease revoke $LEASE",
      "get k", "lease timetolive $LEASE", "lease revoke $LEASE", "lease keep-alive --once $LEASE",
      "lease grant 10 -w json", { advance: 11 }, "lease timetolive $LEASE -w json", "lease list -w json",
    ],
    want: `$ lease grant 100
lease $LEASE granted with TTL(100s)
$ put k v --lease=$LEASE
OK
$ lease timetolive $LEASE --keys
lease $LEASE granted with TTL(100s), remaining(100s), attached keys([k])
$ lease timetolive $LEASE -w json --keys
{"revision":2,"id":$LEASE_DEC,"ttl":100,"granted-ttl":100,"keys":["aw=="]}
$ lease list
found 1 leases
$LEASE
$ lease keep-alive --once $LEASE
lease $LEASE keepalived with TTL(100)
$ lease keep-alive --once $LEASE -w json
{"revision":2,"ID":$LEASE_DEC,"TTL":100}
$ lease revoke $LEASE
lease $LEASE revoked
$ get k
$ lease timetolive $LEASE
lease $LEASE already expired
$ lease revoke $LEASE
! Error: failed to revoke lease (etcdserver: requested lease not found)
$ lease keep-alive --once $LEASE
! Error: etcdserver: requested lease not found
$ lease grant 10 -w json
{"revision":3,"ID":$LEASE_DEC,"TTL":10,"Error":""}
$ lease timetolive $LEASE -w json
{"revision":3,"id":$LEASE_DEC,"ttl":-1,"granted-ttl":0,"keys":null}
$ lease list -w json
{"revision":3,"leases":[]}`,
  },
  {
    name: "lease keep-alive in the background",
    steps: [
      // The first renewal at once, the next a second later (TTL/3, in real time).
      "lease grant 3", { bg: "lease keep-alive $LEASE" }, { until: /keepalived with TTL\(3\)\nlease \w+ keepalived with TTL\(3\)$/ }, { interrupt: true },
      { bg: "lease keep-alive $LEASE" }, { until: /\$ lease keep-alive \w+\nlease \w+ keepalived with TTL\(3\)$/ },
      "lease revoke $LEASE", { until: /expired or revoked\.$/ },
    ],
    want: `$ lease grant 3
lease $LEASE granted with TTL(3s)
$ lease keep-alive $LEASE
lease $LEASE keepalived with TTL(3)
lease $LEASE keepalived with TTL(3)
^C
$ lease keep-alive $LEASE
lease $LEASE keepalived with TTL(3)
$ lease revoke $LEASE
lease $LEASE revoked
lease $LEASE expired or revoked.`,
  },
  {
    name: "del of a range without --range warns, waits, and stops on Ctrl+C",
    steps: ["put a 1", "put b 2", { bg: "del a c" }, { until: /to avoid the delay\.$/ }, { interrupt: true }, "get a", "del a c", "get a --from-key"],
    want: `$ put a 1
OK
$ put b 2
OK
$ del a c
! Warning: Keys between "a" and "c" will be deleted. Please interrupt the command within next 2 seconds to cancel. You can provide \`--range\` flag to avoid the delay.
^C
$ get a
a
1
$ del a c
! Warning: Keys between "a" and "c" will be deleted. Please interrupt the command within next 2 seconds to cancel. You can provide \`--range\` flag to avoid the delay.
2
$ get a --from-key`,
  },
  {
    name: "lease keep-alive -w json, and lease ids in txn compares",
    steps: [
      "lease grant 30", "put k v --lease=$LEASE", { bg: "lease keep-alive -w json $LEASE" }, { until: /"TTL":30\}$/ }, { interrupt: true },
      `txn\nlease("k") = "$LEASE"\n\nget k --keys-only\n\nput x y\n`,
      `txn\nlease("k") != "$LEASE"\n\nget k\n\nget k --print-value-only\n`,
    ],
    want: `$ lease grant 30
lease $LEASE granted with TTL(30s)
$ put k v --lease=$LEASE
OK
$ lease keep-alive -w json $LEASE
{"revision":2,"ID":$LEASE_DEC,"TTL":30}
^C
$ txn
compares: lease("k") = "$LEASE"
compares:
success requests (get, put, del): get k --keys-only
success requests (get, put, del):
failure requests (get, put, del): put x y
failure requests (get, put, del):
SUCCESS

k

$ txn
compares: lease("k") != "$LEASE"
compares:
success requests (get, put, del): get k
success requests (get, put, del):
failure requests (get, put, del): get k --print-value-only
failure requests (get, put, del):
FAILURE

k
v`,
  },
  {
    // The hashes are what etcd 3.6.16 answers after the same four requests (etcdctl
    // endpoint hashkv against it, 12-08).
    name: "compaction, endpoint, version",
    steps: [
      "put a 1", "put a 2", "compaction 2", "compaction 2", "compaction 100", "compaction 3 --physical",
      "endpoint status -w json", "endpoint hashkv", "endpoint hashkv -w table", "endpoint hashkv --rev 2",
      "endpoint hashkv --rev 3 -w fields", "endpoint hashkv --rev 9 -w json", "endpoint hashkv -w protobuf", "version",
    ],
    want: `$ put a 1
OK
$ put a 2
OK
$ compaction 2
compacted revision 2
$ compaction 2
! Error: etcdserver: mvcc: required revision has been compacted
$ compaction 100
! Error: etcdserver: mvcc: required revision is a future revision
$ compaction 3 --physical
compacted revision 3
$ endpoint status -w json
[{"Endpoint":"this tab","Status":{"header":{"revision":3},"version":"3.6.16","dbSize":$DB,"dbSizeInUse":$DB}}]
$ endpoint hashkv
this tab, 1483641527, 3
$ endpoint hashkv -w table
+----------+------------+---------------+
| ENDPOINT |    HASH    | HASH REVISION |
+----------+------------+---------------+
| this tab | 1483641527 |             3 |
+----------+------------+---------------+
$ endpoint hashkv --rev 2
this tab, 2587454935, 2
$ endpoint hashkv --rev 3 -w fields
"ClusterID" : 0
"MemberID" : 0
"Revision" : 3
"RaftTerm" : 0
"Endpoint" : "this tab"
"Hash" : 1483641527
"HashRevision" : 3

$ endpoint hashkv --rev 9 -w json
! Failed to get the hash of endpoint this tab (etcdserver: mvcc: required revision is a future revision)
null
! Error: etcdserver: mvcc: required revision is a future revision
$ endpoint hashkv -w protobuf
! Error: protobuf not supported as output format
$ version
etcdctl version: 3.6.16
API version: 3.6`,
  },  {
    name: "auth: users, roles, permissions, and acting as a user",
    steps: [
      "auth status", "auth enable", "user add root:rootpw", "user add :x", "user add bob",
      "user add alice --new-user-password=apw", "user add carol --no-password", "user add dave: -w json",
      "user add root:again", "user list", "role list", "role add reader", "role add reader", "role add ''",
      "role grant-permission reader read foo --prefix", "role grant-permission reader readwrite k1",
      "role grant-permission reader WRITE a c", "role add all", "role grant-permission all read '' --from-key",
      "role grant-permission all write '' --prefix", "role grant-permission all read ''", "role get all",
      "role grant-permission reader bogus x", "role grant-permission reader read x --prefix --from-key",
      "role grant-permission reader read x y --prefix", "role grant-permission reader read b a",
      "role grant-permission nobody read x", "role grant-permission reader read",
      "role get reader", "role get reader -w fields", "role get reader -w json", "role get root", "role get nobody",
      "user grant-role alice reader", "user grant-role alice nobody", "user get alice", "user get alice --detail",
      "user get alice -w json", "user get carol", "user get nobody", "user list -w fields",
      "role list -w fields", "auth status -w json",
      "auth enable", "auth status", "auth status --user root:rootpw", "put foo bar", "get foo",
      "put foo bar --user root:rootpw", "put foo/x y --user=root:rootpw", "get foo --user alice:apw",
      "get foo --prefix --user alice:apw", "get foo --user alice:wrong", "get foo --user nobody:x",
      "get foo --user carol:x", "get foo --user alice", "get foo --user alice --password apw", "get foo --user alice:",
      "put foo x --user alice:apw", "put k1 v --user alice:apw", "del foo --user alice:apw",
      "user list --user alice:apw", "user get alice --user alice:apw", "user get root --user alice:apw",
      "role get reader --user alice:apw", "role get root --user alice:apw", "role list --user root:rootpw",
      "compaction 1 --user alice:apw", "lease grant 100 --user alice:apw", "lease list --user alice:apw",
      "endpoint health", "endpoint health --user alice:no",
      "endpoint status --user alice:apw -w json", "endpoint status",
      "watch foo", { until: /canceled by the server$/ },
      "watch zzz --user alice:apw", { until: /canceled by the server$/ },
      "user delete root --user root:rootpw", "role delete root --user root:rootpw",
      "user revoke-role root root --user root:rootpw",
      "role revoke-permission reader foo --prefix --user root:rootpw",
      "role revoke-permission reader a c --user root:rootpw", "role revoke-permission all '' --from-key --user root:rootpw",
      "role revoke-permission reader nope --user root:rootpw", "role revoke-permission reader k1 --user root:rootpw -w json",
      "get foo --user alice:apw",
      "user passwd alice newpw --user root:rootpw", "get foo --user alice:apw", "user passwd alice",
      "user revoke-role alice reader --user root:rootpw", "user revoke-role alice reader --user root:rootpw",
      "auth disable --user alice:newpw", "auth disable --user root:rootpw", "auth status", "get foo",
      "user delete carol", "role delete reader", "user get alice", "user list",
    ],
    want: `$ auth status
Authentication Status: false
AuthRevision: 1
$ auth enable
! Error: etcdserver: root user does not exist
$ user add root:rootpw
User root created
$ user add :x
! Error: empty user name is not allowed
$ user add bob
! Error: this console cannot ask for a password: give it as bob:PASSWORD or with --new-user-password
$ user add alice --new-user-password=apw
User alice created
$ user add carol --no-password
User carol created
$ user add dave: -w json
{"header":{"revision":1}}
$ user add root:again
! Error: etcdserver: user name already exists
$ user list
alice
carol
dave
root
$ role list
$ role add reader
Role reader created
$ role add reader
! Error: etcdserver: role name already exists
$ role add ''
! Error: etcdserver: role name is empty
$ role grant-permission reader read foo --prefix
Role reader updated
$ role grant-permission reader readwrite k1
Role reader updated
$ role grant-permission reader WRITE a c
Role reader updated
$ role add all
Role all created
$ role grant-permission all read '' --from-key
Role all updated
$ role grant-permission all write '' --prefix
Role all updated
$ role grant-permission all read ''
Role all updated
$ role get all
Role all
KV Read:
\t\x00
KV Write:
\t[\x00, <open ended>
$ role grant-permission reader bogus x
! Error: invalid permission type: bogus
$ role grant-permission reader read x --prefix --from-key
! Error: --from-key and --prefix flags are mutually exclusive
$ role grant-permission reader read x y --prefix
! Error: unexpected endkey argument with --prefix flag
$ role grant-permission reader read b a
! Error: etcdserver: invalid auth management
$ role grant-permission nobody read x
! Error: etcdserver: role name not found
$ role grant-permission reader read
! Error: role grant command requires role name, permission type, and key [endkey] as its argument
$ role get reader
Role reader
KV Read:
\t[foo, fop) (prefix foo)
\tk1
KV Write:
\t[a, c)
\tk1
$ role get reader -w fields
"ClusterID" : 0
"MemberID" : 0
"Revision" : 1
"RaftTerm" : 0
"PermType" :  WRITE
"Key" : "a"
"RangeEnd" : "c"
"PermType" :  READ
"Key" : "foo"
"RangeEnd" : "fop"
"PermType" :  READWRITE
"Key" : "k1"
"RangeEnd" : ""
$ role get reader -w json
{"header":{"revision":1},"perm":[{"permType":1,"key":"YQ==","range_end":"Yw=="},{"key":"Zm9v","range_end":"Zm9w"},{"permType":2,"key":"azE="}]}
$ role get root
! Error: etcdserver: role name not found
$ role get nobody
! Error: etcdserver: role name not found
$ user grant-role alice reader
Role reader is granted to user alice
$ user grant-role alice nobody
! Error: etcdserver: role name not found
$ user get alice
User: alice
Roles: reader
$ user get alice --detail
User: alice

Role reader
KV Read:
\t[foo, fop) (prefix foo)
\tk1
KV Write:
\t[a, c)
\tk1
$ user get alice -w json
{"header":{"revision":1},"roles":["reader"]}
$ user get carol
User: carol
Roles:
$ user get nobody
! Error: etcdserver: user name not found
$ user list -w fields
! Error: fields not supported as output format
$ role list -w fields
"ClusterID" : 0
"MemberID" : 0
"Revision" : 1
"RaftTerm" : 0
"Roles" : "all" "reader"
$ auth status -w json
{"header":{"revision":1},"authRevision":14}
$ auth enable
Authentication Enabled
$ auth status
! Error: etcdserver: user name is empty
$ auth status --user root:rootpw
Authentication Status: true
AuthRevision: 16
$ put foo bar
! Error: etcdserver: user name is empty
$ get foo
! Error: etcdserver: user name is empty
$ put foo bar --user root:rootpw
OK
$ put foo/x y --user=root:rootpw
OK
$ get foo --user alice:apw
foo
bar
$ get foo --prefix --user alice:apw
foo
bar
foo/x
y
$ get foo --user alice:wrong
! Error: etcdserver: authentication failed, invalid user ID or password
$ get foo --user nobody:x
! Error: etcdserver: authentication failed, invalid user ID or password
$ get foo --user carol:x
! Error: rpc error: code = Unknown desc = auth: authentication failed, password was given for no password user
$ get foo --user alice
! Error: this console cannot ask for a password: give it as --user NAME:PASSWORD or with --password
$ get foo --user alice --password apw
foo
bar
$ get foo --user alice:
! Error: etcdserver: user name is empty
$ put foo x --user alice:apw
! Error: etcdserver: permission denied
$ put k1 v --user alice:apw
OK
$ del foo --user alice:apw
! Error: etcdserver: permission denied
$ user list --user alice:apw
! Error: etcdserver: permission denied
$ user get alice --user alice:apw
User: alice
Roles: reader
$ user get root --user alice:apw
! Error: etcdserver: permission denied
$ role get reader --user alice:apw
Role reader
KV Read:
\t[foo, fop) (prefix foo)
\tk1
KV Write:
\t[a, c)
\tk1
$ role get root --user alice:apw
! Error: etcdserver: permission denied
$ role list --user root:rootpw
all
reader
root
$ compaction 1 --user alice:apw
! Error: etcdserver: permission denied
$ lease grant 100 --user alice:apw
lease $LEASE granted with TTL(100s)
$ lease list --user alice:apw
found 1 leases
$LEASE
$ endpoint health
! this tab is unhealthy: failed to commit proposal: etcdserver: user name is empty
! Error: unhealthy cluster
$ endpoint health --user alice:no
! this tab is unhealthy: failed to commit proposal: etcdserver: authentication failed, invalid user ID or password
! Error: unhealthy cluster
$ endpoint status --user alice:apw -w json
[{"Endpoint":"this tab","Status":{"header":{"revision":4},"version":"3.6.16","dbSize":$DB,"dbSizeInUse":$DB}}]
$ endpoint status
! Failed to get the status of endpoint this tab (etcdserver: user name is empty)
$ watch foo
! watch was canceled (rpc error: code = InvalidArgument desc = etcdserver: user name is empty)
! Error: watch is canceled by the server
$ watch zzz --user alice:apw
! watch was canceled (rpc error: code = PermissionDenied desc = etcdserver: permission denied)
! Error: watch is canceled by the server
$ user delete root --user root:rootpw
! Error: etcdserver: invalid auth management
$ role delete root --user root:rootpw
! Error: etcdserver: invalid auth management
$ user revoke-role root root --user root:rootpw
! Error: etcdserver: invalid auth management
$ role revoke-permission reader foo --prefix --user root:rootpw
Permission of range [foo, fop) is revoked from role reader
$ role revoke-permission reader a c --user root:rootpw
Permission of range [a, c) is revoked from role reader
$ role revoke-permission all '' --from-key --user root:rootpw
Permission of range [, <open ended> is revoked from role all
$ role revoke-permission reader nope --user root:rootpw
! Error: etcdserver: permission is not granted to the role
$ role revoke-permission reader k1 --user root:rootpw -w json
{"header":{"revision":4}}
$ get foo --user alice:apw
! Error: etcdserver: permission denied
$ user passwd alice newpw --user root:rootpw
Password updated
$ get foo --user alice:apw
! Error: etcdserver: authentication failed, invalid user ID or password
$ user passwd alice
! Error: this console cannot ask for a password: give it after the user name (user passwd alice PASSWORD)
$ user revoke-role alice reader --user root:rootpw
Role reader is revoked from user alice
$ user revoke-role alice reader --user root:rootpw
! Error: etcdserver: role is not granted to the user
$ auth disable --user alice:newpw
! Error: etcdserver: permission denied
$ auth disable --user root:rootpw
Authentication Disabled
$ auth status
Authentication Status: false
AuthRevision: 23
$ get foo
foo
bar
$ user delete carol
User carol deleted
$ role delete reader
Role reader deleted
$ user get alice
User: alice
Roles:
$ user list
alice
dave
root`,
  },
  {
    name: "auth: leases, txn, and a lease's keys",
    steps: [
      "user add root:r", "role add w", "role grant-permission w readwrite k --prefix", "user add u:p",
      "user grant-role u w", "auth enable", "lease grant 100 --user root:r", "put s v --lease=$LEASE --user root:r",
      "put k v --lease=$LEASE --user u:p", "lease revoke $LEASE --user u:p", "lease timetolive $LEASE --keys --user u:p",
      "lease timetolive $LEASE --user u:p", "lease keep-alive --once $LEASE --user u:p", "lease list --user u:p",
      "lease keep-alive --once $LEASE --user root:r", "txn --user u:p\n\nput k1 1\n\nput s 2\n",
      "txn --user u:p\nvalue(\"k1\") = \"1\"\n\nput k1 2\n\nget k2\n", "txn\n\nget k\n\n",
      "lease grant 100 --user u:p", "put k2 v --lease=$LEASE --user u:p", "lease timetolive $LEASE --keys --user u:p",
      "lease revoke $LEASE --user u:p", "get k --prefix --user u:p -w json", "watch k --prefix --user u:p", "put k3 z --user root:r",
      { until: /PUT\nk3\nz\nOK$/ }, { interrupt: true }, "auth disable --user root:r",
    ],
    want: `$ user add root:r
User root created
$ role add w
Role w created
$ role grant-permission w readwrite k --prefix
Role w updated
$ user add u:p
User u created
$ user grant-role u w
Role w is granted to user u
$ auth enable
Authentication Enabled
$ lease grant 100 --user root:r
lease $LEASE granted with TTL(100s)
$ put s v --lease=$LEASE --user root:r
OK
$ put k v --lease=$LEASE --user u:p
! Error: etcdserver: permission denied
$ lease revoke $LEASE --user u:p
! Error: failed to revoke lease (etcdserver: permission denied)
$ lease timetolive $LEASE --keys --user u:p
! Error: etcdserver: permission denied
$ lease timetolive $LEASE --user u:p
lease $LEASE granted with TTL(100s), remaining(100s)
$ lease keep-alive --once $LEASE --user u:p
! Error: etcdserver: permission denied
$ lease list --user u:p
! Error: etcdserver: permission denied
$ lease keep-alive --once $LEASE --user root:r
lease $LEASE keepalived with TTL(100)
$ txn --user u:p
compares:
success requests (get, put, del): put k1 1
success requests (get, put, del):
failure requests (get, put, del): put s 2
failure requests (get, put, del):
! Error: etcdserver: permission denied
$ txn --user u:p
compares: value("k1") = "1"
compares:
success requests (get, put, del): put k1 2
success requests (get, put, del):
failure requests (get, put, del): get k2
failure requests (get, put, del):
FAILURE

$ txn
compares:
success requests (get, put, del): get k
success requests (get, put, del):
failure requests (get, put, del):
! Error: etcdserver: user name is empty
$ lease grant 100 --user u:p
lease $LEASE granted with TTL(100s)
$ put k2 v --lease=$LEASE --user u:p
OK
$ lease timetolive $LEASE --keys --user u:p
lease $LEASE granted with TTL(100s), remaining(100s), attached keys([k2])
$ lease revoke $LEASE --user u:p
lease $LEASE revoked
$ get k --prefix --user u:p -w json
{"header":{"revision":4}}
$ watch k --prefix --user u:p
$ put k3 z --user root:r
PUT
k3
z
OK
^C
$ auth disable --user root:r
Authentication Disabled`,
  },
];

let api: Api;

before(async () => {
  api = await startCore();
});

after(async () => {
  await api.tab?.clock("resume");
});

for (const c of cases) {
  test(c.name, async () => {
    await api.tab!.reset();
    await api.tab!.clock("pause");
    const r = new Recorder(api);
    const out: string[] = [];
    let lease = "";
    const leases = new Set<string>();
    const pending: Promise<void>[] = [];
    const collect = () => {
      const t = r.take();
      if (t !== "") out.push(t);
    };
    for (const step of c.steps) {
      if (typeof step === "string" || "bg" in step) {
        const line = (typeof step === "string" ? step : step.bg).replaceAll("$LEASE", lease);
        const first = r.shell.prompt;
        line.split("\n").forEach((l, i) => out.push(`${i === 0 ? first : promptAfter(line, i)} ${l}`));
        const p = r.shell.run(line);
        if (typeof step === "string") await p;
        else pending.push(p);
        await sleep(5); // a turn for output already due; what may come later has an {until}
      } else if ("until" in step) {
        const end = Date.now() + patienceMs;
        const transcript = () => [...out, ...r.lines].join("\n");
        while (!step.until.test(transcript())) {
          if (Date.now() > end) assert.fail(`nothing matched ${step.until} in ${patienceMs} ms:\n${transcript()}`);
          await sleep(5);
        }
      } else if ("interrupt" in step) {
        collect();
        r.shell.interrupt();
        assert.equal(r.shell.busy, false);
        out.push("^C");
        continue;
      } else {
        await api.tab!.clock("advance", step.advance);
      }
      const before = r.lines.join("\n");
      const m = /lease ([0-9a-f]{16}) granted/.exec(before) ?? /"ID":(\d+),"TTL"/.exec(before);
      if (m) {
        lease = m[0].startsWith('"') ? BigInt(m[1]).toString(16).padStart(16, "0") : m[1];
        leases.add(lease);
      }
      collect();
    }
    r.shell.interrupt();
    await Promise.all(pending);
    let got = out.join("\n");
    for (const l of leases) got = got.replaceAll(l, "$LEASE").replaceAll(BigInt("0x" + l).toString(), "$LEASE_DEC");
    got = got.replace(/"dbSize":(\d+),"dbSizeInUse":\1/, '"dbSize":$$DB,"dbSizeInUse":$$DB');
    // Trailing blanks are not compared ("compares: " for an empty line reads "compares:").
    const norm = (t: string) => t.split("\n").map((l) => l.trimEnd()).join("\n");
    assert.equal(norm(got), norm(c.want));
  });
}

test("auth restricts the console's client, not the page's own Api", async () => {
  await api.tab!.reset();
  const r = new Recorder(api);
  await r.shell.run("user add root:r\nauth enable\nput a 1 --user root:r\nget a");
  assert.equal(r.take(), "User root created\nAuthentication Enabled\nOK\n! Error: etcdserver: user name is empty");
  // The panels read and write the store whoever its users are.
  await api.put({ key: new TextEncoder().encode("b"), value: new TextEncoder().encode("2") });
  assert.equal((await api.range({ key: new TextEncoder().encode("a") })).count, 1n);
  assert.equal((await api.status()).header?.revision, 3n);
  const anonymous = await api.client();
  await assert.rejects(anonymous.range({ key: new TextEncoder().encode("a") }), /user name is empty/);
  await assert.rejects(api.client({ user: "root", password: "x" }), /authentication failed/);
  const root = await api.client({ user: "root", password: "r" });
  assert.equal((await root.range({ key: new TextEncoder().encode("b") })).kvs.length, 1);
  await root.authDisable();
});

test("the page's sign-in is the console's default user; --user overrides it", async () => {
  await api.tab!.reset();
  const r = new Recorder(api);
  await r.shell.run("user add root:r\nuser add alice:a\nrole add reader\nrole grant-permission reader read a --prefix\n" +
    "user grant-role alice reader\nauth enable\nput a1 1 --user root:r");
  assert.match(r.take(), /Authentication Enabled\nOK$/);
  r.shell.credentials = { user: "alice", password: "a" };
  await r.shell.run("get a1\nput a2 x\nput a2 x --user root:r\nget a2 --user root:r\nget a2 --user alice:wrong");
  assert.equal(r.take(), "a1\n1\n! Error: etcdserver: permission denied\nOK\na2\nx\n" +
    "! Error: etcdserver: authentication failed, invalid user ID or password");
  r.shell.credentials = undefined;
  await r.shell.run("get a1");
  assert.equal(r.take(), "! Error: etcdserver: user name is empty");
  await r.shell.run("auth disable --user root:r");
});

// The prompt shown for line i of a multi-line input (for the transcript only).
function promptAfter(input: string, i: number): string {
  const lines = input.split("\n");
  if (!/^(etcdctl\s+)?txn\b/.test(lines[0])) return "$";
  let section = 0;
  for (let k = 1; k < i; k++) if (lines[k].trim() === "") section++;
  return section > 2 ? "$" : ["compares:", "success requests (get, put, del):", "failure requests (get, put, del):"][section];
}

test("busy while a watch runs; prompt follows txn sections; switching api stops tasks", async () => {
  await api.tab!.reset();
  const r = new Recorder(api);
  assert.equal(r.shell.prompt, "$");
  await r.shell.run("watch x");
  assert.equal(r.shell.busy, true);
  r.shell.api = new Proxy(api, {});
  assert.equal(r.shell.busy, false);
  await r.shell.run("txn -i");
  assert.equal(r.shell.prompt, "compares:");
  await r.shell.run("");
  assert.equal(r.shell.prompt, "success requests (get, put, del):");
  await r.shell.run("");
  assert.equal(r.shell.prompt, "failure requests (get, put, del):");
  await r.shell.run("");
  assert.equal(r.shell.prompt, "$");
  assert.equal(r.take(), "SUCCESS");
  await r.shell.run("help");
  assert.match(r.take(), /COMMANDS:\n(.|\n)*lease keep-alive\s+Keeps leases alive \(renew\)/);
  await r.shell.run("help get");
  const help = r.take();
  assert.match(help, /^NAME:\n {2}get - Gets the key or a range of keys\n/);
  // Aligned with tabs, as etcdctl's tabwriter aligns them (to the 40th column here).
  assert.match(help, /\n {6}--consistency="l"\t{3}Linearizable\(l\) or Serializable\(s\)\n/);
  assert.match(help, /\n {6}--print-value-only\[=false\]\tOnly write values/);
  await r.shell.run("lease");
  assert.match(r.take(), /\nAPI VERSION:\n {2}3\.6\n\nCOMMANDS:\n {2}grant\t\tCreates leases\n {2}keep-alive\tKeeps/);
  await r.shell.run("put --help");
  assert.match(r.take(), /--prev-kv\[=false\]\s+return the previous key-value pair/);
});

test("Ctrl+C gives the prompt back while a call hangs, and drops its late output", { timeout: patienceMs }, async () => {
  await api.tab!.reset();
  let release!: () => void, entered!: () => void, answered!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const inRange = new Promise<void>((r) => (entered = r));
  const rangeDone = new Promise<void>((r) => (answered = r));
  // The console's client (see Api.client) is this Api too, with its range slowed.
  const slow: Api = new Proxy(api, {
    get: (t, k, r) => (k === "client" ? async () => slow : k === "range" ? async (...a: unknown[]) => {
      entered();
      await gate;
      try {
        return await (t.range as (...x: unknown[]) => unknown)(...a);
      } finally {
        answered();
      }
    } : Reflect.get(t, k, r)),
  });
  const r = new Recorder(slow);
  const hung = r.shell.run("get a");
  await inRange;
  r.shell.interrupt();
  await hung;
  await r.shell.run("put a b");
  release();
  // The late answer is in; whatever the shell does with it runs before the next macrotask.
  await rangeDone;
  await new Promise((r) => setImmediate(r));
  assert.equal(r.take(), "OK");
});

// Whatever is typed, the console answers: run() never rejects, prints something or nothing,
// and the prompt is always one of etcdctl's. Random lines from etcdctl's own words, flags,
// quotes and junk, with a fixed seed so a failure replays (SHELL_SEED=n).
test("random input never breaks the console", async () => {
  await api.tab!.reset();
  let seed = Number(process.env.SHELL_SEED ?? 20261126);
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const words = ["put", "get", "del", "txn", "-i", "watch", "lease", "grant", "revoke", "keep-alive", "timetolive",
    "list", "compaction", "endpoint", "status", "health", "version", "help", "etcdctl", "a", "b", "k/", "''", '"x y"',
    "'", '"', "--prefix", "--from-key", "--rev=", "--rev=-1", "--rev=3", "--limit=x", "--limit", "5", "-w", "json",
    "fields", "table", "protobuf", "--hex", "--prev-kv", "--lease=zz", "--lease=1", "--keys-only", "--count-only",
    "--sort-by=VALUE", "--order=UP", "--", "-", "--=", "value(\"a\")", "=", "!=", ">", "<", "mod(\"a\")", "\"1\"",
    "create(", ")", "9999999999999999999999", "0x10", "é", "\\", "--physical", "--once", "--keys", "\t",
    "user", "role", "auth", "add", "grant-role", "grant-permission", "revoke-permission", "passwd", "enable", "disable",
    "readwrite", "--user", "--user=a:b", "a:b", "root:r", "--detail", "--no-password", "--new-user-password"];
  const prompts = new Set(["$", "compares:", "success requests (get, put, del):", "failure requests (get, put, del):"]);
  const r = new Recorder(api);
  for (let i = 0; i < 3000; i++) {
    const line = Array.from({ length: rand(7) }, () => words[rand(words.length)]).join(" ");
    await assert.doesNotReject(r.shell.run(line), `line ${i}: ${line}`);
    assert.ok(prompts.has(r.shell.prompt), `line ${i}: ${line}: prompt ${r.shell.prompt}`);
    if (r.shell.busy) r.shell.interrupt(); // a watch or keep-alive that started
    r.take();
  }
  r.shell.interrupt();
});

// ---- what a newcomer tripped over (issue #14) ----

/** A store that has been used: its revision far past 2, its history before the last put compacted. */
async function usedStore(r: Recorder): Promise<void> {
  await api.tab!.reset();
  await r.shell.run(Array.from({ length: 20 }, (_, i) => `put /used/${i % 3} ${i}`).join("\n") + "\ncompaction 21");
  assert.match(r.take(), /compacted revision 21$/);
}

test("variables: $REV, $LEASE and NAME=VALUE work in typed lines and txn lines; help lists them", async () => {
  const r = new Recorder(api);
  await usedStore(r);
  await r.shell.run("put a 1\nFIRST=$REV\nput a 2\nget a --rev=$FIRST --print-value-only\nget a --rev=${REV} --print-value-only");
  assert.equal(r.take(), "OK\nOK\n1\n2");
  assert.equal(r.shell.vars.get("FIRST"), "22");
  // As in sh: 'single quotes' keep a $ as typed, "double quotes" do not; a variable not set stays as typed.
  await r.shell.run(`put q '$REV'\nget q --print-value-only\nput q "rev $REV"\nget q --print-value-only\nput q $NOPE\nget q --print-value-only`);
  assert.equal(r.take(), "OK\n$REV\nOK\nrev 24\nOK\n$NOPE");
  await r.shell.run("lease grant 100");
  const id = /lease ([0-9a-f]{16}) granted/.exec(r.take())?.[1];
  assert.equal(r.shell.vars.get("LEASE"), id);
  await r.shell.run(`put k v --lease=$LEASE\ntxn\nlease("k") = "$LEASE"\n\nput t $LEASE\n\n`);
  assert.equal(r.take(), "OK\nSUCCESS\n\nOK");
  assert.equal(r.shell.vars.get("REV"), "28"); // the txn's
  await r.shell.run("get t --print-value-only");
  assert.equal(r.take(), id);
  await r.shell.run("help");
  const help = r.take();
  assert.match(help, /\nVARIABLES:\n {2}\$LEASE\t+the ID of the last lease granted here/);
  assert.match(help, /\n {2}\$REV\t+the revision the last put, del or txn left the store at\n/);
  assert.match(help, new RegExp(`\\n {2}Set now: .*LEASE=${id}`));
  await r.shell.run(`lease revoke $LEASE`);
});

test("the examples run on a used store, and read and compact at the revisions they made", async () => {
  const r = new Recorder(api);
  await usedStore(r);
  const printed = new Map<string, string[]>();
  for (const ex of examples) {
    r.shell.interrupt(); // as the page does before each example
    const out: string[] = [];
    for (const c of ex.commands) {
      await r.shell.run(c);
      await sleep(5); // a watch's event is due
      out.push(r.take());
    }
    printed.set(ex.title, out);
  }
  r.shell.interrupt();
  for (const [title, out] of printed) {
    if (title !== "Compaction") assert.doesNotMatch(out.join("\n"), /Error/, `${title}:\n${out.join("\n")}`);
  }
  assert.equal(printed.get("Keys and revisions")!.at(-1), "/demo/greeting\nhello");
  const compaction = printed.get("Compaction")!;
  assert.deepEqual(compaction.slice(-3), [`compacted revision ${r.shell.vars.get("REV")}`,
    "! Error: etcdserver: mvcc: required revision has been compacted", "/old/value\nv2"]);
});

test("each watch and keep-alive is listed, and stops alone", { timeout: patienceMs }, async () => {
  await api.tab!.reset();
  const r = new Recorder(api);
  let changes = 0;
  r.shell.onTasks = () => changes++;
  await r.shell.run("watch a\nwatch b --prefix --user=root:secret\nwatch c --user bob --password pw\nlease grant 3\nlease keep-alive $LEASE");
  const id = r.shell.vars.get("LEASE");
  assert.deepEqual(r.shell.running.map((t) => t.label),
    ["watch a", "watch b --prefix --user=root:***", "watch c --user bob --password ***", `lease keep-alive ${id}`]);
  assert.equal(changes, 4);
  r.shell.running[0].stop();
  assert.deepEqual(r.shell.running.map((t) => t.label).slice(0, 1), ["watch b --prefix --user=root:***"]);
  assert.equal(changes, 5);
  r.take();
  await r.shell.run("put a 1\nput b 2");
  for (const end = Date.now() + patienceMs; !/PUT\nb\n2/.test(r.lines.join("\n")); await sleep(5)) {
    if (Date.now() > end) assert.fail(`the watch on b printed nothing:\n${r.lines.join("\n")}`);
  }
  await sleep(50);
  assert.doesNotMatch(r.take(), /PUT\na/, "the stopped watch still printed");
  // A keep-alive whose lease goes ends by itself, and leaves the list.
  await r.shell.run("lease revoke $LEASE");
  for (const end = Date.now() + patienceMs; r.shell.running.length > 2; await sleep(5)) {
    if (Date.now() > end) assert.fail(`the keep-alive did not end:\n${r.lines.join("\n")}`);
  }
  assert.match(r.take(), /expired or revoked\.$/);
  r.shell.interrupt();
  assert.deepEqual(r.shell.running, []);
  assert.equal(r.shell.busy, false);
});

test("txn -i shows each section's syntax as the input's hint", async () => {
  await api.tab!.reset();
  const r = new Recorder(api);
  assert.equal(r.shell.hint, "");
  await r.shell.run("txn -i");
  assert.match(r.shell.hint, /^mod\("k"\) > "0" · value\("k"\) = "v"/);
  await r.shell.run("");
  assert.match(r.shell.hint, /^put k v · get k · del k --prefix · empty line ends$/);
  await r.shell.run("");
  assert.match(r.shell.hint, /empty line commits$/);
  await r.shell.run("");
  assert.equal(r.shell.hint, "");
  assert.equal(r.take(), "SUCCESS");
});

test("compaction --physical asks for a physical compaction, in the tab as on a server", async () => {
  await api.tab!.reset();
  const calls: unknown[][] = [];
  const spy: Api = new Proxy(api, {
    get: (t, k, r) => (k === "client" ? async () => spy : k === "compact" ? (...a: [bigint, boolean?]) => {
      calls.push(a);
      return t.compact(...a);
    } : Reflect.get(t, k, r)),
  });
  const r = new Recorder(spy);
  await r.shell.run("put a 1\nput a 2\ncompaction 2 --physical\ncompaction 3");
  assert.equal(r.take(), "OK\nOK\ncompacted revision 2\ncompacted revision 3");
  assert.deepEqual(calls, [[2n, true], [3n, false]]);
  // The tab's Api passes it on to the core (wasm/bridge.go honours it).
  const sent: string[] = [];
  const tab = new TabApi({ call: async (m, j) => (sent.push(`${m} ${j}`), '{"header":{"revision":"3"}}'), putMany: async () => "0" });
  await tab.compact(3n, true);
  assert.deepEqual(sent, ['compaction {"revision":"3","physical":true}']);
});

test("on a server, compaction asks first and does nothing if declined; in the tab, or agreed to already, it does not ask", async () => {
  await api.tab!.reset();
  const compacted: bigint[] = [];
  // The tab's store, seen as a server's.
  const server: Api = new Proxy(api, {
    get: (t, k, r) => (k === "mode" ? "server" : k === "endpoint" ? "http://example:2379" : k === "client" ? async () => server
      : k === "compact" ? (rev: bigint, physical?: boolean) => (compacted.push(rev), t.compact(rev, physical)) : Reflect.get(t, k, r)),
  });
  const r = new Recorder(server);
  const asked: string[] = [];
  let answer = false;
  r.shell.ask = async (question, yes) => (asked.push(`${question} [${yes}]`), answer);
  await r.shell.run("put a 1\nput a 2\ncompaction 2\ncompaction x");
  assert.equal(r.take(), "OK\nOK\n! Error: strconv.ParseInt: parsing \"x\": invalid syntax");
  assert.deepEqual(asked, ["Compact http://example:2379 at revision 2? The server forgets its history before it, for every client. [Compact the server]"]);
  assert.deepEqual(compacted, []);
  answer = true;
  await r.shell.run("compaction 2");
  assert.equal(r.take(), "compacted revision 2");
  assert.deepEqual(compacted, [2n]);
  answer = false;
  await r.shell.run("compaction 3", true); // an example that asked before it started
  assert.equal(r.take(), "compacted revision 3");
  assert.equal(asked.length, 2);

  const tab = new Recorder(api);
  tab.shell.ask = async () => assert.fail("asked in the tab");
  await tab.shell.run("put a 3\ncompaction 4");
  assert.equal(tab.take(), "OK\ncompacted revision 4");
});

test("Tab completes a command's name and its flags; where several fit, what they share, then the list", async () => {
  const r = new Recorder(api);
  const tab = (line: string) => r.shell.complete(line);
  assert.deepEqual(tab("lea"), { line: "lease ", options: [] });
  assert.deepEqual(tab("lease g"), { line: "lease grant ", options: [] });
  assert.deepEqual(tab("lease "), { line: "lease ", options: ["grant", "keep-alive", "list", "revoke", "timetolive"] });
  assert.deepEqual(tab("get --p"), { line: "get --p", options: ["--password", "--prefix", "--print-value-only"] });
  assert.deepEqual(tab("get --pre"), { line: "get --prefix ", options: [] });
  assert.deepEqual(tab("get foo --re"), { line: "get foo --rev=", options: [] }); // takes a value
  assert.deepEqual(tab("get --so"), { line: "get --sort-by=", options: [] });
  assert.deepEqual(tab("put k v --prev"), { line: "put k v --prev-kv ", options: [] });
  assert.deepEqual(tab("co"), { line: "compaction ", options: [] }); // "completion" is not in this console
  assert.deepEqual(tab("e"), { line: "endpoint ", options: [] }); // "elect" is not in this console
  assert.deepEqual(tab("endpoint status --cl"), { line: "endpoint status --cluster ", options: [] }); // endpoint's, inherited
  assert.deepEqual(tab("$ A=1 etcdctl lease re"), { line: "$ A=1 etcdctl lease revoke ", options: [] });
  assert.deepEqual(tab("A=1 pu"), { line: "A=1 put ", options: [] });
  assert.deepEqual(tab("help use"), { line: "help user ", options: [] });
  assert.deepEqual(tab("user add --no"), { line: "user add --no-password ", options: [] });
  assert.deepEqual(tab("m"), { line: "m", options: ["member", "move-leader"] }); // "make-mirror" is not in this console
  assert.deepEqual(tab("member "), { line: "member ", options: ["add", "list", "promote", "remove", "update"] });
  assert.deepEqual(tab("member add x --pe"), { line: "member add x --peer-urls=", options: [] });
  assert.deepEqual(tab("member list --end"), { line: "member list --endpoints=", options: [] });
  // Arguments, values and unknown words: nothing to offer.
  assert.deepEqual(tab("put k v"), { line: "put k v", options: [] });
  assert.deepEqual(tab("lease foo g"), { line: "lease foo g", options: [] });
  assert.deepEqual(tab("get --rev=3"), { line: "get --rev=3", options: [] });
  assert.deepEqual(tab("snap"), { line: "snap", options: [] });
  await r.shell.run("txn -i");
  assert.deepEqual(tab("pu"), { line: "pu", options: [] }); // a txn's line is no command
  r.shell.interrupt();
});

/**
 * Three members in memory, each behind the Api its client URL gives (as a server's members, or
 * the Cluster tab's, are): enough of one for the console's membership commands. m1 leads
 * until it hands the leadership over. What they do not fake is the tab's store's.
 */
function memoryCluster(): Api {
  const ids = [1n, 2n, 3n];
  let leader = 1n;
  let term = 2n;
  const url = (id: bigint) => `http://m${id}:2379`;
  const header = (id: bigint) => ({ clusterId: 0xc1n, memberId: id, raftTerm: term });
  const members = new Map<string, Api>();
  for (const id of ids) {
    const fake: Partial<Api> = {
      mode: "server",
      endpoint: url(id),
      client: async () => self,
      at: (ep) => {
        const m = members.get(ep);
        if (!m) throw new MetaStoreError(14, `no member at ${ep}`);
        return m;
      },
      status: async () => create(StatusResponseSchema, {
        header: header(id), version: "3.6.16", storageVersion: "3.6.0", dbSize: 20480n, dbSizeInUse: 16384n,
        dbSizeQuota: 2147483648n, leader, raftTerm: term, raftIndex: 9n, raftAppliedIndex: 9n,
      }),
      range: async () => create(RangeResponseSchema, { header: header(id) }),
      memberList: async () => create(MemberListResponseSchema, {
        header: header(id),
        members: ids.map((m) => ({ ID: m, name: `m${m}`, peerURLs: [`http://m${m}:2380`], clientURLs: [url(m)] })),
      }),
      moveLeader: async (target) => {
        if (leader !== id) throw new MetaStoreError(9, "etcdserver: not leader");
        if (!ids.includes(target)) throw new MetaStoreError(9, "etcdserver: bad leader transferee");
        leader = target;
        term++;
        return create(MoveLeaderResponseSchema, {});
      },
    };
    const self: Api = new Proxy(api, { get: (t, k, r) => (k in fake ? fake[k as keyof Api] : Reflect.get(t, k, r)) });
    members.set(url(id), self);
  }
  return members.get(url(1n))!;
}

test("membership through the Api alone: --endpoints picks members, move-leader finds the leader, --cluster lists them", async () => {
  const r = new Recorder(memoryCluster());
  const run = async (line: string) => (await r.shell.run(line), r.take());
  assert.equal(await run("member list"), [
    "1, started, m1, http://m1:2380, http://m1:2379, false",
    "2, started, m2, http://m2:2380, http://m2:2379, false",
    "3, started, m3, http://m3:2380, http://m3:2379, false"].join("\n"));
  // Through another member (its header says which), and as etcdctl writes it by hand with --hex.
  assert.equal(await run("member list -w json --hex --endpoints=http://m2:2379"),
    '{"header":{"cluster_id":"c1","member_id":"2","raft_term":2},"members":[' +
    '{"ID":"1","name":"m1","peerURLs":["http://m1:2380"],"clientURLs":["http://m1:2379"]},' +
    '{"ID":"2","name":"m2","peerURLs":["http://m2:2380"],"clientURLs":["http://m2:2379"]},' +
    '{"ID":"3","name":"m3","peerURLs":["http://m3:2380"],"clientURLs":["http://m3:2379"]}]}');
  assert.equal(await run("move-leader 3 --endpoints=http://m2:2379,http://m3:2379"),
    "! Error: no leader endpoint given at [http://m2:2379 http://m3:2379]");
  // A second --endpoints adds to the first, as pflag's string slices do.
  assert.equal(await run("move-leader 3 --endpoints=http://m2:2379 --endpoints ' http://m1:2379'"), "Leadership transferred from 1 to 3");
  assert.equal(await run("move-leader 2 -w fields"), "! Error: no leader endpoint given at [http://m1:2379]");
  // Every member's client URL, from the member list, in its order; m3 leads now.
  assert.equal(await run("endpoint status --cluster -w table"), [
    "+----------------+----+---------+-----------------+---------+--------+-----------------------+--------+-----------+------------+-----------+------------+--------------------+--------+--------------------------+-------------------+",
    "|    ENDPOINT    | ID | VERSION | STORAGE VERSION | DB SIZE | IN USE | PERCENTAGE NOT IN USE | QUOTA  | IS LEADER | IS LEARNER | RAFT TERM | RAFT INDEX | RAFT APPLIED INDEX | ERRORS | DOWNGRADE TARGET VERSION | DOWNGRADE ENABLED |",
    "+----------------+----+---------+-----------------+---------+--------+-----------------------+--------+-----------+------------+-----------+------------+--------------------+--------+--------------------------+-------------------+",
    "| http://m1:2379 |  1 |  3.6.16 |           3.6.0 |   20 kB |  16 kB |                   20% | 2.1 GB |     false |      false |         3 |          9 |                  9 |        |                          |             false |",
    "| http://m2:2379 |  2 |  3.6.16 |           3.6.0 |   20 kB |  16 kB |                   20% | 2.1 GB |     false |      false |         3 |          9 |                  9 |        |                          |             false |",
    "| http://m3:2379 |  3 |  3.6.16 |           3.6.0 |   20 kB |  16 kB |                   20% | 2.1 GB |      true |      false |         3 |          9 |                  9 |        |                          |             false |",
    "+----------------+----+---------+-----------------+---------+--------+-----------------------+--------+-----------+------------+-----------+------------+--------------------+--------+--------------------------+-------------------+",
  ].join("\n"));
  // A member the client cannot reach stops status there, before it prints (etcdctl's mustClient).
  assert.equal(await run("endpoint status --endpoints=http://m1:2379,http://m9:2379"), "! Error: no member at http://m9:2379");
  assert.match(await run("endpoint health --cluster"),
    /^(http:\/\/m[123]:2379 is healthy: successfully committed proposal: took = \S+\n?){3}$/);
  const health = await run("endpoint health --endpoints=http://m9:2379,http://m2:2379 -w json");
  assert.match(health, /\{"endpoint":"http:\/\/m9:2379","health":false,"took":"","error":"no member at http:\/\/m9:2379"\}/);
  assert.match(health, /\{"endpoint":"http:\/\/m2:2379","health":true,"took":"[^"]+"\}/);
  assert.match(health, /\n! Error: unhealthy cluster$/);
});

test("table headers read as tablewriter's Title reads them (what etcdctl's tables print)", () => {
  // The expected lines are what github.com/olekukonko/tablewriter v0.0.5 (etcdctl's) printed.
  assert.deepEqual(renderTable(["hash_revision", "v1.2", "a.b", "1.x", ".5"], [["1", "2", "3", "4", "5"]]), [
    "+---------------+------+-----+-----+----+",
    "| HASH REVISION | V1.2 | A B | 1 X | .5 |",
    "+---------------+------+-----+-----+----+",
    "|             1 |    2 |   3 |   4 |  5 |",
    "+---------------+------+-----+-----+----+",
  ]);
});

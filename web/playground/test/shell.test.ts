// The etcdctl console against the real core (wasm), table-driven: a sequence of input lines
// and the terminal it should leave. Expected outputs are etcdctl v3.6's (checked against
// etcdctl on a metastore server), except that the tab's response headers carry only the
// revision (no cluster_id, member_id, raft_term) and its status has no raft.
//
// Run: cd web && npm run test:shell   (needs web/dist/metastore.wasm: make web)
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Api } from "../src/api.js";
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
      "member list",
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
$ member list
! Error: "etcdctl member" is not available in this console (see 'help')`,
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
    name: "compaction, endpoint, version",
    steps: [
      "put a 1", "put a 2", "compaction 2", "compaction 2", "compaction 100", "compaction 3 --physical",
      "endpoint status -w json", "version",
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
$ version
etcdctl version: 3.6.16
API version: 3.6`,
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
  const slow = new Proxy(api, {
    get: (t, k, r) => (k === "range" ? async (...a: unknown[]) => {
      entered();
      await gate;
      try {
        return await (t.range as (...x: unknown[]) => unknown)(...a);
      } finally {
        answered();
      }
    } : Reflect.get(t, k, r)),
  });
  const r = new Recorder(slow as Api);
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
    "create(", ")", "9999999999999999999999", "0x10", "é", "\\", "--physical", "--once", "--keys", "\t"];
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

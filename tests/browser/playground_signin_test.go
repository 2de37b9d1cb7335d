//go:build !js

package browser

import (
	"context"
	"fmt"
	"testing"
)

// TestPlaygroundServerSignIn: the playground in server mode against a member with auth on
// (root, a role reading app/, the user alice with it; set up from Go with clientv3). Without
// a sign-in the status line shows the refusal and the page asks for a user; a wrong password
// is refused; signed in as alice, the key tree lists the keys alice may read and follows a
// put made there by another client (also after the server dropped alice's token), the
// console's commands run as alice without --user (a put outside alice's rights prints
// etcdctl's error) and --user still overrides; no password is stored. Signing out: refused
// again. Axe finds nothing serious in either state.
func TestPlaygroundServerSignIn(t *testing.T) {
	ctx, addr := playground(t)
	const password = "alice-secret-pw"

	bg := context.Background()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	dial := setupAuth(t, addr, nil, password, "app/b", "2").dial

	status := func(want, what string) {
		t.Helper()
		waitFor(t, ctx, fmt.Sprintf(`document.querySelector("#status").textContent === %q`, "http://"+addr+" · "+want), what)
	}
	refused := "refused: etcdserver: user name is empty (sign in)"

	// Connected without a user: refused, and the page asks for one.
	fill(t, ctx, `[aria-label="server address"]`, "http://"+addr)
	click(t, ctx, "#connect-button")
	status(refused, "the status line does not show the refusal")
	waitFor(t, ctx, `document.activeElement?.id === "user" && !document.querySelector("#session").hidden`, "the page does not ask for a user")
	waitFor(t, ctx, `document.querySelector("#panel-keys").innerText.includes("Keys not read: etcdserver: user name is empty")`, "the key tree does not say it was refused")
	loadAxe(t, ctx)
	accessible(t, ctx, "server mode, not signed in")
	screenshot(t, ctx, "server-refused")

	fill(t, ctx, `[aria-label="user name"]`, "alice")
	fill(t, ctx, `[aria-label="password"]`, "wrong")
	click(t, ctx, "#sign-in-button")
	waitFor(t, ctx, `document.querySelector("[aria-label=output]").innerText.includes("Error: cannot sign in as alice: etcdserver: authentication failed, invalid user ID or password")`, "a wrong password was not refused")
	status(refused, "a failed sign-in changed the status line")

	fill(t, ctx, `[aria-label="password"]`, password)
	click(t, ctx, "#sign-in-button")
	waitFor(t, ctx, `/ · as alice · revision \d+$/.test(document.querySelector("#status").textContent)`, "the status line does not show alice signed in")
	waitFor(t, ctx, `document.querySelector("#signed-in").innerText === "Signed in as alice" && document.activeElement?.id === "sign-out"`, "the page does not show who is signed in")
	key := func(k string) string {
		return fmt.Sprintf(`document.querySelector('[aria-label=keys] .key[title=%q]') !== null`, k)
	}
	waitFor(t, ctx, key("app/a")+" && "+key("app/b"), "the key tree does not list alice's keys")
	waitFor(t, ctx, `document.querySelector("#panel-keys").innerText.includes("2 keys alice may read")`, "the key count does not say whose keys")
	var shown bool
	eval(t, ctx, "return "+key("secret/x")+";", &shown)
	if shown {
		t.Error("the key tree shows a key alice may not read")
	}

	for _, tc := range []struct{ cmd, want string }{
		{"get app/a", "app/a\n1"},
		{"put secret/y 1", "Error: etcdserver: permission denied"},
		{"put app/c 3", "Error: etcdserver: permission denied"},
		{"get secret/x", "Error: etcdserver: permission denied"},
		{"get secret/x --user root:rootpw", "secret/x\ns"},
	} {
		if got := command(t, ctx, tc.cmd); got != tc.want {
			t.Errorf("signed in as alice, %s: printed %q, want %q", tc.cmd, got, tc.want)
		}
	}
	// The page follows the keys alice may read: a put there by another client shows.
	root := dial("root", "rootpw")
	must(root.Put(bg, "app/c", "3"))
	waitFor(t, ctx, key("app/c"), "the key tree did not show a put made by another client")
	// Tokens dropped by the server (auth turned off and on): the page logs in again by itself.
	must(root.AuthDisable(bg))
	must(root.AuthEnable(bg))
	must(root.Put(bg, "app/d", "4"))
	waitFor(t, ctx, key("app/d")+` && / · as alice · revision \d+$/.test(document.querySelector("#status").textContent)`,
		"after its token was dropped, the page did not go on as alice")
	// Neither the sign-in's password nor the one typed with --user is stored (the console's
	// saved history leaves out lines with a password).
	var kept bool
	eval(t, ctx, fmt.Sprintf(`const stored = JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), location.href]);
		return stored.includes(%q) || stored.includes("rootpw") || document.querySelector("#password").value !== "";`, password), &kept)
	if kept {
		t.Error("a password is kept outside the page's memory")
	}
	accessible(t, ctx, "server mode, signed in")
	screenshot(t, ctx, "server-sign-in")

	click(t, ctx, "#sign-out")
	status(refused, "signed out, the status line does not show the refusal")
	waitFor(t, ctx, `document.activeElement?.id === "user" && document.querySelector("#signed-in").hidden`, "signed out, the page does not ask for a user")
	if got := command(t, ctx, "get app/a"); got != "Error: etcdserver: user name is empty" {
		t.Errorf("signed out, get app/a: printed %q", got)
	}
}

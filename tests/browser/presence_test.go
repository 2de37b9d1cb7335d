//go:build !js

package browser

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/metastore/metastore/internal/testserver"
)

// TestPresenceExample runs examples/browser/presence in two tabs: each sees the other, a
// message typed in one shows in the other, and when a tab closes its lease expires and it
// leaves the other's list.
func TestPresenceExample(t *testing.T) {
	ui := http.NewServeMux()
	ui.Handle("/client/", http.StripPrefix("/client/", http.FileServer(http.Dir(filepath.Join("..", "..", "web", "client", "dist")))))
	ui.Handle("/", http.FileServer(http.Dir(filepath.Join("..", "..", "examples", "browser"))))
	_, addr := testserver.Start(t, testserver.Options{UI: ui})
	tab1 := browser(t)
	tab2, closeTab2 := chromedp.NewContext(tab1)
	defer closeTab2()
	url := "http://" + addr + "/presence/"
	for _, tab := range []context.Context{tab1, tab2} {
		if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
			t.Fatal(err)
		}
	}
	count := func(tab context.Context, n int) {
		t.Helper()
		js := `document.querySelectorAll("#tabs li").length === ` + string(rune('0'+n))
		if _, err := chromedp.Run(tab, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(patience))); err != nil {
			status, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector("#status").textContent`))
			t.Fatalf("want %d tabs listed: %v (status %q)", n, err, status)
		}
	}
	count(tab1, 2)
	count(tab2, 2)
	if err := chromedp.Do(tab1, chromedp.Evaluate[chromedp.Void](`(() => { const i = document.querySelector("#message");
		i.value = "hello from tab 1"; i.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter"})); })()`)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(tab2, chromedp.Poll[bool](`document.querySelector("#board").textContent === "hello from tab 1"`,
		chromedp.WithPollingTimeout(patience))); err != nil {
		t.Fatalf("the message did not reach the other tab: %v", err)
	}
	closeTab2() // the tab goes away without a word: its lease must expire
	count(tab1, 1)
}

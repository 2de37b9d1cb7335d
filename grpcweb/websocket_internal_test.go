package grpcweb

import "testing"

// FuzzHeaderBlock: any first message is parsed or refused, never a panic.
func FuzzHeaderBlock(f *testing.F) {
	f.Add([]byte("content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n"))
	f.Add([]byte(""))
	f.Add([]byte("no colon\r\n"))
	f.Add([]byte(" leading: space\r\n\r\nbody"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseHeaderBlock(b)
	})
}

func TestParseHeaderBlock(t *testing.T) {
	h, err := parseHeaderBlock([]byte("content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\nauthorization: Bearer x"))
	if err != nil || h.Get("X-Grpc-Web") != "1" || h.Get("Authorization") != "Bearer x" {
		t.Fatalf("%v %v", h, err)
	}
	if _, err := parseHeaderBlock([]byte("no colon here\r\n")); err == nil {
		t.Fatal("a line without a colon was accepted")
	}
}

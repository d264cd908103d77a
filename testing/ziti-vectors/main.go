// Generates known-answer vectors for opk's OpenZiti client (crates/opk-ziti) with the Go SDK's
// own packages, pinned as sdk-golang v1.3.0 pins them: channel v2 framing
// (github.com/openziti/channel/v4 MarshalV2/ReadV2) and end-to-end encryption
// (github.com/openziti/secretstream: kx session keys and the XChaCha20-Poly1305 stream).
//
//	cd testing/ziti-vectors && go run . > ../../crates/opk-ziti/tests/vectors/sdk-golang.json
//
// Keys, headers and nonces come from the SDK's own random sources, so every run gives new (equally
// valid) vectors; the committed file is one such run.
package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"bytes"

	"github.com/openziti/channel/v4"
	"github.com/openziti/secretstream"
	"github.com/openziti/secretstream/kx"
)

type header struct {
	Key   int32  `json:"key"`
	Value string `json:"value_hex"`
}

type frame struct {
	Name        string   `json:"name"`
	ContentType int32    `json:"content_type"`
	Sequence    int32    `json:"sequence"`
	Headers     []header `json:"headers"`
	Body        string   `json:"body_hex"`
	Wire        string   `json:"wire_hex"`
}

type kxVector struct {
	ClientSecret string `json:"client_sk_hex"`
	ClientPublic string `json:"client_pk_hex"`
	ServerSecret string `json:"server_sk_hex"`
	ServerPublic string `json:"server_pk_hex"`
	ClientRx     string `json:"client_rx_hex"`
	ClientTx     string `json:"client_tx_hex"`
	ServerRx     string `json:"server_rx_hex"`
	ServerTx     string `json:"server_tx_hex"`
}

type streamMessage struct {
	Plain  string `json:"plain_hex"`
	Tag    byte   `json:"tag"`
	Cipher string `json:"cipher_hex"`
}

type streamVector struct {
	Key      string          `json:"key_hex"`
	Header   string          `json:"header_hex"`
	Messages []streamMessage `json:"messages"`
}

type vectors struct {
	Note    string         `json:"note"`
	Frames  []frame        `json:"frames"`
	Kx      []kxVector     `json:"kx"`
	Streams []streamVector `json:"streams"`
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// secretKey reads the SDK's private scalar: KeyPair keeps it unexported, and the vector needs it
// so that the Rust side can derive the same public key and session keys.
func secretKey(kp *kx.KeyPair) []byte {
	f := reflect.ValueOf(kp).Elem().FieldByName("sk")
	out := make([]byte, f.Len())
	for i := range out {
		out[i] = byte(f.Index(i).Uint())
	}
	return out
}

func addFrame(v *vectors, name string, m *channel.Message) {
	wire, err := channel.MarshalV2(m)
	must(err)
	// Read it back with the SDK's reader: the headers as the SDK sees them.
	back, err := channel.ReadV2(bytes.NewReader(wire))
	must(err)
	f := frame{Name: name, ContentType: back.ContentType, Sequence: back.Sequence(),
		Body: hex.EncodeToString(back.Body), Wire: hex.EncodeToString(wire)}
	for k, val := range back.Headers {
		f.Headers = append(f.Headers, header{Key: k, Value: hex.EncodeToString(val)})
	}
	v.Frames = append(v.Frames, f)
}

func main() {
	v := vectors{Note: "made by testing/ziti-vectors (go run .) with github.com/openziti/channel/v4 v4.2.41 " +
		"and github.com/openziti/secretstream v0.1.42, the versions sdk-golang v1.3.0 requires"}

	// Channel v2 frames: the hello a client sends, a Connect (dial), Data, a close, a reply.
	hello := channel.NewMessage(channel.ContentTypeHelloType, []byte("opk-test-identity"))
	hello.SetSequence(-1)
	hello.PutStringHeader(1002, "3c1e8a6e-5d4b-4e2a-9a0f-0b6c9c1a2d3e")
	addFrame(&v, "hello", hello)

	connect := channel.NewMessage(60783, []byte("dial-session-token"))
	connect.SetSequence(7)
	connect.PutUint32Header(1000, 1)
	connect.Headers[1003] = bytes.Repeat([]byte{0xab}, 32)
	connect.PutByteHeader(1009, 0)
	connect.PutStringHeader(1006, "ssh-host-1")
	connect.PutStringHeader(1008, "laptop")
	connect.PutBoolHeader(1028, false)
	addFrame(&v, "connect", connect)

	data := channel.NewMessage(60786, []byte("hello over the overlay"))
	data.SetSequence(8)
	data.PutUint32Header(1000, 1)
	data.PutUint32Header(1001, 3)
	addFrame(&v, "data", data)

	fin := channel.NewMessage(60786, nil)
	fin.SetSequence(9)
	fin.PutUint32Header(1000, 1)
	fin.PutUint32Header(1010, 1)
	addFrame(&v, "data-fin", fin)

	closed := channel.NewMessage(60785, []byte("no terminator"))
	closed.SetSequence(10)
	closed.PutUint32Header(1000, 1)
	addFrame(&v, "state-closed", closed)

	latency := channel.NewMessage(channel.ContentTypeLatencyType, nil)
	latency.SetSequence(11)
	latency.PutUint64Header(128, 1700000000123456789)
	addFrame(&v, "latency", latency)

	result := channel.NewResult(true, "")
	result.SetSequence(12)
	result.ReplyTo(hello)
	addFrame(&v, "result-reply", result)

	big := channel.NewMessage(60786, bytes.Repeat([]byte("0123456789abcdef"), 2048))
	big.SetSequence(13)
	big.PutUint32Header(1000, 2)
	addFrame(&v, "data-32k", big)

	// kx session keys (crypto_kx) between a dialer (client) and a host (server).
	for i := 0; i < 3; i++ {
		c, err := kx.NewKeyPair()
		must(err)
		s, err := kx.NewKeyPair()
		must(err)
		crx, ctx, err := c.ClientSessionKeys(s.Public())
		must(err)
		srx, stx, err := s.ServerSessionKeys(c.Public())
		must(err)
		v.Kx = append(v.Kx, kxVector{
			ClientSecret: hex.EncodeToString(secretKey(c)), ClientPublic: hex.EncodeToString(c.Public()),
			ServerSecret: hex.EncodeToString(secretKey(s)), ServerPublic: hex.EncodeToString(s.Public()),
			ClientRx: hex.EncodeToString(crx), ClientTx: hex.EncodeToString(ctx),
			ServerRx: hex.EncodeToString(srx), ServerTx: hex.EncodeToString(stx),
		})
	}

	// secretstream: a header and a run of pushed messages (empty, short, 32 KiB, final tag).
	for i := 0; i < 2; i++ {
		key, err := secretstream.NewStreamKey()
		must(err)
		enc, hdr, err := secretstream.NewEncryptor(key)
		must(err)
		sv := streamVector{Key: hex.EncodeToString(key), Header: hex.EncodeToString(hdr)}
		plains := [][]byte{[]byte(""), []byte("SSH-2.0-OpenSSH_9.2"), bytes.Repeat([]byte{byte(i)}, 32768), []byte("bye")}
		for j, p := range plains {
			tag := byte(secretstream.TagMessage)
			if j == len(plains)-1 {
				tag = secretstream.TagFinal
			}
			c, err := enc.Push(p, tag)
			must(err)
			sv.Messages = append(sv.Messages, streamMessage{Plain: hex.EncodeToString(p), Tag: tag, Cipher: hex.EncodeToString(c)})
		}
		v.Streams = append(v.Streams, sv)
	}

	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", " ")
	must(out.Encode(v))
}

// Command pushcheck decodes one Loki push request body the way Loki 3's distributor does and prints
// what Loki would ingest, so tracklog's push encoder (exporters/loki/encode.py) can be checked
// against Loki 3's own push types without running an (AGPL) Loki 3 server.
//
//	pushcheck -content-type application/x-protobuf [-content-encoding gzip] < body
//	pushcheck -content-type application/json [-content-encoding gzip] < body
//
// Output (stdout, one JSON document):
//
//	{"streams":[{"labels":"{a=\"b\"}","label_map":{"a":"b"},
//	             "entries":[{"ts_ns":"...","line":"...","structured_metadata":{"k":"v"}}]}]}
//
// Any decode error: a message on stderr and exit status 1 (2 for bad usage).
//
// Protobuf: Content-Encoding (gzip/deflate, or none) is undone first, then the body is snappy
// *block* decoded and unmarshalled as push.PushRequest (github.com/grafana/loki/pkg/push, Apache-2.0),
// as Loki 3's push handler does (util.ParseProtoReader with RawSnappy). The stream's Labels string
// is printed verbatim; it is also parsed (parseLabels) so a label string Loki could not parse fails.
//
// JSON: the pkg/push module has no decoder for the JSON push format (its types only implement
// MarshalJSON, and LabelsAdapter.UnmarshalJSON for a {"name":"value"} object); Loki 3's JSON push
// decoder lives in the AGPL main module, which must not be used. So the JSON push format is decoded
// here, strictly, following Loki's documented push API:
//
//	{"streams":[{"stream":{"label":"value",...},"values":[["<unix epoch ns>","<line>"],
//	                                                     ["<unix epoch ns>","<line>",{"meta":"value",...}]]}]}
//
// each value has 2 or 3 elements, the timestamp is a string of decimal nanoseconds, the line a string,
// the third element an object of string -> string (decoded with pkg/push's LabelsAdapter.UnmarshalJSON,
// the type Loki 3 stores structured metadata in). Unknown fields are rejected (Loki ignores them;
// tracklog's encoder must not send any). The stream labels are rendered as Loki does for a JSON push
// (sorted names, Go-quoted values, ", " between pairs: {a="x", b="y"}).
package main

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
)

type outEntry struct {
	TsNs               string            `json:"ts_ns"`
	Line               string            `json:"line"`
	StructuredMetadata map[string]string `json:"structured_metadata"`
}

type outStream struct {
	Labels   string            `json:"labels"`    // as Loki stores it (protobuf: verbatim)
	LabelMap map[string]string `json:"label_map"` // the labels parsed back (protobuf: parseLabels)
	Entries  []outEntry        `json:"entries"`
}

type output struct {
	Streams []outStream `json:"streams"`
}

func main() {
	contentType := flag.String("content-type", "", "application/x-protobuf or application/json")
	contentEncoding := flag.String("content-encoding", "", "gzip, deflate, snappy (protobuf only; the same as none) or empty")
	flag.Parse()
	if flag.NArg() != 0 {
		fail(2, "unexpected arguments: %v", flag.Args())
	}
	body, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(1, "reading stdin: %v", err)
	}
	out, err := decode(body, *contentType, *contentEncoding)
	if err != nil {
		fail(1, "%v", err)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fail(1, "writing output: %v", err)
	}
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pushcheck: "+format+"\n", args...)
	os.Exit(code)
}

func decode(body []byte, contentType, contentEncoding string) (*output, error) {
	mediaType := strings.TrimSpace(strings.SplitN(contentType, ";", 2)[0])
	var err error
	switch contentEncoding {
	case "":
	case "snappy": // Loki: "Snappy-decoding is done by ParseProtoReader" below - for protobuf only.
		if mediaType != "application/x-protobuf" {
			return nil, fmt.Errorf("content-encoding snappy is only valid for application/x-protobuf")
		}
	case "gzip":
		var r *gzip.Reader
		if r, err = gzip.NewReader(bytes.NewReader(body)); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		if body, err = io.ReadAll(r); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
	case "deflate":
		if body, err = io.ReadAll(flate.NewReader(bytes.NewReader(body))); err != nil {
			return nil, fmt.Errorf("deflate: %w", err)
		}
	default:
		return nil, fmt.Errorf("unsupported content-encoding %q", contentEncoding)
	}
	switch mediaType {
	case "application/x-protobuf":
		return decodeProtobuf(body)
	case "application/json":
		return decodeJSON(body)
	default:
		return nil, fmt.Errorf("unsupported content-type %q", contentType)
	}
}

func decodeProtobuf(body []byte) (*output, error) {
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		return nil, fmt.Errorf("snappy block decode: %w", err)
	}
	var req push.PushRequest
	if err := req.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("push.PushRequest.Unmarshal: %w", err)
	}
	out := &output{Streams: make([]outStream, 0, len(req.Streams))}
	for i, s := range req.Streams {
		labelMap, err := parseLabels(s.Labels)
		if err != nil {
			return nil, fmt.Errorf("stream %d: labels %q: %w", i, s.Labels, err)
		}
		entries := make([]outEntry, 0, len(s.Entries))
		for _, e := range s.Entries {
			meta := make(map[string]string, len(e.StructuredMetadata))
			for _, p := range e.StructuredMetadata {
				meta[p.Name] = p.Value
			}
			entries = append(entries, outEntry{TsNs: tsNs(e.Timestamp), Line: e.Line, StructuredMetadata: meta})
		}
		out.Streams = append(out.Streams, outStream{Labels: s.Labels, LabelMap: labelMap, Entries: entries})
	}
	return out, nil
}

func tsNs(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

type jsonStream struct {
	Stream map[string]string `json:"stream"`
	Values []json.RawMessage `json:"values"`
}

type jsonPush struct {
	Streams []jsonStream `json:"streams"`
}

func decodeJSON(body []byte) (*output, error) {
	var req jsonPush
	if err := strictUnmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("json push body: %w", err)
	}
	if req.Streams == nil {
		return nil, errors.New(`json push body: no "streams" array`)
	}
	out := &output{Streams: make([]outStream, 0, len(req.Streams))}
	for i, s := range req.Streams {
		if s.Stream == nil {
			return nil, fmt.Errorf("stream %d: no \"stream\" label object", i)
		}
		entries := make([]outEntry, 0, len(s.Values))
		for j, v := range s.Values {
			e, err := decodeJSONValue(v)
			if err != nil {
				return nil, fmt.Errorf("stream %d value %d: %w", i, j, err)
			}
			entries = append(entries, e)
		}
		out.Streams = append(out.Streams, outStream{Labels: renderLabels(s.Stream), LabelMap: s.Stream, Entries: entries})
	}
	return out, nil
}

func decodeJSONValue(raw json.RawMessage) (outEntry, error) {
	var parts []json.RawMessage
	if err := strictUnmarshal(raw, &parts); err != nil {
		return outEntry{}, fmt.Errorf("not an array: %w", err)
	}
	if len(parts) != 2 && len(parts) != 3 {
		return outEntry{}, fmt.Errorf("%d elements, want 2 or 3 ([ts, line] or [ts, line, {metadata}])", len(parts))
	}
	var ts, line string
	if err := strictString(parts[0], &ts); err != nil {
		return outEntry{}, fmt.Errorf("timestamp: %w", err)
	}
	if ts == "" || strings.TrimLeft(ts, "0123456789") != "" {
		return outEntry{}, fmt.Errorf("timestamp %q is not decimal nanoseconds", ts)
	}
	ns, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return outEntry{}, fmt.Errorf("timestamp %q: %w", ts, err)
	}
	if err := strictString(parts[1], &line); err != nil {
		return outEntry{}, fmt.Errorf("line: %w", err)
	}
	meta := map[string]string{}
	if len(parts) == 3 {
		trimmed := bytes.TrimSpace(parts[2])
		if len(trimmed) == 0 || trimmed[0] != '{' {
			return outEntry{}, fmt.Errorf("structured metadata is not an object: %s", trimmed)
		}
		var adapter push.LabelsAdapter
		if err := adapter.UnmarshalJSON(trimmed); err != nil {
			return outEntry{}, fmt.Errorf("structured metadata: %w", err)
		}
		for _, p := range adapter {
			meta[p.Name] = p.Value
		}
	}
	return outEntry{TsNs: strconv.FormatInt(ns, 10), Line: line, StructuredMetadata: meta}, nil
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func strictString(raw json.RawMessage, s *string) error {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '"' {
		return fmt.Errorf("not a JSON string: %s", trimmed)
	}
	return json.Unmarshal(trimmed, s)
}

// renderLabels renders a JSON push's stream labels as Loki 3 does (sorted, strconv.Quote'd values).
func renderLabels(ls map[string]string) string {
	names := make([]string, 0, len(ls))
	for name := range ls {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, name := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(ls[name]))
	}
	b.WriteByte('}')
	return b.String()
}

// parseLabels parses a protobuf stream's label string, {name="value", ...}: names match
// [a-zA-Z_][a-zA-Z0-9_]*, values are Go double-quoted string literals (Loki's LogQL lexer reads them
// with strconv.Unquote; a raw newline in a value is an error there too). Only '=' matchers are
// accepted, as Loki requires for a push. An approximation of Loki's syntax.ParseLabels (AGPL, not used).
func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	rest := strings.TrimSpace(s)
	if !strings.HasPrefix(rest, "{") || !strings.HasSuffix(rest, "}") {
		return nil, errors.New("not enclosed in {}")
	}
	rest = strings.TrimSpace(rest[1 : len(rest)-1])
	for rest != "" {
		n := 0
		for n < len(rest) && (rest[n] == '_' || rest[n] >= 'a' && rest[n] <= 'z' || rest[n] >= 'A' && rest[n] <= 'Z' ||
			n > 0 && rest[n] >= '0' && rest[n] <= '9') {
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("bad label name at %q", rest)
		}
		name := rest[:n]
		rest = strings.TrimLeft(rest[n:], " \t")
		if !strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, "=~") {
			return nil, fmt.Errorf("label %s: want '='", name)
		}
		rest = strings.TrimLeft(rest[1:], " \t")
		end, err := quotedEnd(rest)
		if err != nil {
			return nil, fmt.Errorf("label %s: %w", name, err)
		}
		value, err := strconv.Unquote(rest[:end])
		if err != nil {
			return nil, fmt.Errorf("label %s: value %s: %w", name, rest[:end], err)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("duplicate label %s", name)
		}
		out[name] = value
		rest = strings.TrimLeft(rest[end:], " \t")
		if rest == "" {
			break
		}
		if rest[0] != ',' {
			return nil, fmt.Errorf("want ',' after label %s at %q", name, rest)
		}
		rest = strings.TrimLeft(rest[1:], " \t")
		if rest == "" {
			return nil, errors.New("trailing ','")
		}
	}
	return out, nil
}

// quotedEnd returns the length of the double-quoted literal at the start of s.
func quotedEnd(s string) (int, error) {
	if !strings.HasPrefix(s, `"`) {
		return 0, errors.New("value is not a double-quoted string")
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '\n':
			return 0, errors.New("raw newline in value")
		case '"':
			return i + 1, nil
		}
	}
	return 0, errors.New("unterminated value")
}

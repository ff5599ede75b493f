// Package codec encodes and decodes the control plane's own JSON: the records the store
// keeps in Redis and the entries of its outbox, which every step of every chain reads and
// writes. It has encoding/json's semantics (struct tags, omitempty, Marshaler and
// Unmarshaler, unknown fields ignored) with segmentio/encoding's implementation, which
// decodes a VM record about four times as fast (`go test -bench . ./shared/codec/`);
// decoding records was a fifth of the control plane's CPU in a burst of VM creates.
//
// The store keeps its most numerous records compact: JSON compressed, behind a header
// (Compact); Unmarshal reads both.
//
// JSON that crosses the API (REST bodies, errors) stays with encoding/json and the
// gateway's marshalers.
package codec

import "github.com/segmentio/encoding/json"

// Marshal is encoding/json.Marshal.
func Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal is encoding/json.Unmarshal, of JSON or of a compact record (Compact).
func Unmarshal(data []byte, v any) error {
	if !IsCompact(data) {
		return json.Unmarshal(data, v)
	}
	js, release, err := JSON(data)
	if err != nil {
		return err
	}
	defer release()
	return json.Unmarshal(js, v)
}

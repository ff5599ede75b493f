package codec

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/segmentio/encoding/json"
)

// A compact record is a record's JSON compressed with zstd against a dictionary of
// typical records, after a header that keeps its state readable without decoding it:
//
//	0x00 state 0x00 zstd-frame
//
// A VM record of 1.2 KB of JSON takes about 150 bytes, a task with seven steps about 180
// (`go test -run Size -v ./shared/codec/`): the store keeps its most numerous records,
// VMs and tasks, this way (shared/store's encodeRecord). The store's scripts read the
// state from the header (the count of VMs by state) and otherwise treat a record as
// opaque bytes. No JSON starts with 0x00, so Unmarshal tells the two apart, and records
// written as JSON before stay readable.
//
// The frame names its dictionary by ID. A dictionary, once records have been written
// with it, never changes (TestDictionaryUnchanged); a better one is added beside it with
// the next ID, and compaction moves to it.

// dict1 is the dictionary of ID 1: a VM record and tasks of the VM chains, their IDs
// left out.
//
//go:embed dict1.txt
var dict1 []byte

const dictID = 1

var (
	encoder = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderDictRaw(dictID, dict1), zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderCRC(false), zstd.WithZeroFrames(true))
		if err != nil {
			panic(fmt.Sprintf("codec: zstd encoder: %v", err)) // fixed options
		}
		return e
	})
	decoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil, zstd.WithDecoderDictRaw(dictID, dict1), zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(maxRecord))
		if err != nil {
			panic(fmt.Sprintf("codec: zstd decoder: %v", err)) // fixed options
		}
		return d
	})
	// buffers hold decompressed JSON while it is decoded (Unmarshal copies what it keeps).
	buffers = sync.Pool{New: func() any { return new([]byte) }}
)

// maxRecord bounds what a compact record decompresses to.
const maxRecord = 64 << 20

// Compact encodes v as a compact record with state in its header. state must not hold a
// 0x00 byte.
func Compact(v any, state string) ([]byte, error) {
	if strings.IndexByte(state, 0) >= 0 {
		return nil, errors.New("codec: a compact record's state holds a NUL byte")
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(state)+2+len(raw)/4+32)
	out = append(out, 0)
	out = append(out, state...)
	out = append(out, 0)
	return encoder().EncodeAll(raw, out), nil
}

// IsCompact reports whether data is a compact record.
func IsCompact(data []byte) bool { return len(data) > 0 && data[0] == 0 }

// State is the state in a compact record's header.
func State(data []byte) (string, bool) {
	state, _, ok := split(data)
	return string(state), ok
}

// split parses a compact record into its header's state and its zstd frame.
func split(data []byte) (state, frame []byte, ok bool) {
	if !IsCompact(data) {
		return nil, nil, false
	}
	end := bytes.IndexByte(data[1:], 0)
	if end < 0 {
		return nil, nil, false
	}
	return data[1 : 1+end], data[2+end:], true
}

// JSON is data's JSON: data itself, or a compact record's decompressed. release returns
// the buffer it used; the JSON must not be used after it.
func JSON(data []byte) (js []byte, release func(), err error) {
	if !IsCompact(data) {
		return data, func() {}, nil
	}
	_, frame, ok := split(data)
	if !ok {
		return nil, nil, errors.New("codec: a compact record without its header's end")
	}
	buf := buffers.Get().(*[]byte)
	out, err := decoder().DecodeAll(frame, (*buf)[:0])
	if err != nil {
		buffers.Put(buf)
		return nil, nil, fmt.Errorf("codec: compact record: %w", err)
	}
	return out, func() {
		if cap(out) <= 64<<10 {
			*buf = out[:0]
			buffers.Put(buf)
		}
	}, nil
}

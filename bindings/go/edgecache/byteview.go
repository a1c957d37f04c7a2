package edgecache

import (
	"bytes"
	"errors"
	"io"
	"strings"
)

// ByteView is an immutable view of a value's bytes, held as a []byte or a
// string (groupcache's ByteView). Its methods never hand out its own
// storage for writing: ByteSlice returns a copy.
//
// A ByteView is a small value; copy it freely. It is safe for concurrent
// reads.
type ByteView struct {
	// Exactly one of b and s is used: b when b != nil.
	b []byte
	s string
}

// Len is the number of bytes.
func (v ByteView) Len() int {
	if v.b != nil {
		return len(v.b)
	}
	return len(v.s)
}

// ByteSlice returns a copy of the bytes.
func (v ByteView) ByteSlice() []byte {
	if v.b != nil {
		return cloneBytes(v.b)
	}
	return []byte(v.s)
}

// String returns the bytes as a string (a copy when held as bytes).
func (v ByteView) String() string {
	if v.b != nil {
		return string(v.b)
	}
	return v.s
}

// At returns the byte at index i (panics when out of range, as a slice does).
func (v ByteView) At(i int) byte {
	if v.b != nil {
		return v.b[i]
	}
	return v.s[i]
}

// Slice returns the view of bytes [from, to).
func (v ByteView) Slice(from, to int) ByteView {
	if v.b != nil {
		return ByteView{b: v.b[from:to]}
	}
	return ByteView{s: v.s[from:to]}
}

// SliceFrom returns the view of bytes [from, Len()).
func (v ByteView) SliceFrom(from int) ByteView {
	if v.b != nil {
		return ByteView{b: v.b[from:]}
	}
	return ByteView{s: v.s[from:]}
}

// Copy copies bytes into dest and returns how many were copied.
func (v ByteView) Copy(dest []byte) int {
	if v.b != nil {
		return copy(dest, v.b)
	}
	return copy(dest, v.s)
}

// Equal reports whether v and b2 hold the same bytes.
func (v ByteView) Equal(b2 ByteView) bool {
	if b2.b == nil {
		return v.EqualString(b2.s)
	}
	return v.EqualBytes(b2.b)
}

// EqualString reports whether v holds the bytes of s.
func (v ByteView) EqualString(s string) bool {
	if v.b == nil {
		return v.s == s
	}
	return string(v.b) == s
}

// EqualBytes reports whether v holds the bytes of b2.
func (v ByteView) EqualBytes(b2 []byte) bool {
	if v.b != nil {
		return bytes.Equal(v.b, b2)
	}
	return v.s == string(b2)
}

// Reader returns an io.ReadSeeker over the bytes.
func (v ByteView) Reader() io.ReadSeeker {
	if v.b != nil {
		return bytes.NewReader(v.b)
	}
	return strings.NewReader(v.s)
}

// ReadAt implements io.ReaderAt.
func (v ByteView) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("edgecache: ByteView.ReadAt: negative offset")
	}
	if off >= int64(v.Len()) {
		return 0, io.EOF
	}
	n := v.SliceFrom(int(off)).Copy(p)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteTo implements io.WriterTo.
func (v ByteView) WriteTo(w io.Writer) (int64, error) {
	var n int
	var err error
	if v.b != nil {
		n, err = w.Write(v.b)
	} else {
		n, err = io.WriteString(w, v.s)
	}
	if err == nil && n != v.Len() {
		err = io.ErrShortWrite
	}
	return int64(n), err
}

func cloneBytes(b []byte) []byte {
	c := make([]byte, len(b))
	copy(c, b)
	return c
}
